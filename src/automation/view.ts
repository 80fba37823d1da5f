/** How sessions look to clients: the view of a stored row (with the live prompt's image when there is one). */
import type { automationSessions } from "../../db/schema.ts";
import type { SessionEvent } from "./hub.ts";
import type { PromptView } from "./runtime.ts";
import type { SessionStatus } from "./status.ts";

/** A session row as stored. */
export type SessionRow = typeof automationSessions.$inferSelect;

/** A session as clients see it. */
export interface SessionView {
  id: string;
  owner: string;
  flow: string;
  status: SessionStatus;
  /** 0–100. */
  progress: number;
  /** Data items the flow reported with progress(…, key, value). */
  data: Record<string, unknown>;
  /** The open prompt; `image` is a data URL when the prompt has one (omitted in lists). */
  prompt: (PromptView & { image?: string }) | null;
  result: unknown;
  error: string | null;
  error_step: string | null;
  /** Sequence number of the latest stored event. */
  seq: number;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
  expires_at: string;
  /** placement: 1-based place in the service-wide queue, while the session waits unclaimed. */
  queue_position?: number;
}

/** A saved artifact's metadata. */
export interface ArtifactInfo {
  name: string;
  content_type: string;
  size: number;
  created_at: string;
}

/** The prompt this instance has open for a session: fresher than the row (deadline, latest QR frame). */
export interface OpenPromptState {
  view: PromptView;
  image?: Uint8Array;
}

/** The PNG bytes as a data URL, the form clients get images in. */
export function pngDataUrl(png: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < png.length; i += 0x8000) bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(bin)}`;
}

/** The ephemeral `image` event of an open prompt's current frame, numbered after the latest stored event. */
export function imageEvent(seq: number, open: OpenPromptState, at: Date): SessionEvent {
  return {
    seq,
    type: "image",
    data: { prompt: open.view.id, image: pngDataUrl(open.image!) },
    at: at.toISOString(),
    ephemeral: true,
  };
}

/**
 * The client view of `row`. With `withImage`, the open prompt carries its image as a data URL; `open` (the
 * prompt this instance holds, when it runs the session) wins over the row's copy when it is the same prompt.
 */
export function toView(row: SessionRow, withImage: boolean, open?: OpenPromptState): SessionView {
  let prompt = row.prompt as (PromptView & { image?: string }) | null;
  if (prompt && withImage) {
    const same = open?.view.id === prompt.id;
    const image = same ? open!.image : row.promptImage;
    if (same) prompt = { ...open!.view };
    if (image) prompt = { ...prompt, has_image: true, image: pngDataUrl(image) };
  }
  return {
    id: row.id,
    owner: row.owner,
    flow: row.flow,
    status: row.status as SessionStatus,
    progress: row.progress,
    data: row.data as Record<string, unknown>,
    prompt,
    result: row.result ?? null,
    error: row.error,
    error_step: row.errorStep,
    seq: row.seq,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    updated_at: row.updatedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    expires_at: row.expiresAt.toISOString(),
  };
}

/** Per-session overrides of SESSION_MAX_S (`lifetimeS`) and SESSION_PROMPT_TIMEOUT_S (`promptTimeoutS`). */
export interface SessionLimits {
  lifetimeS?: number;
  promptTimeoutS?: number;
}
