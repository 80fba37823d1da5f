/**
 * What a stored change of an automation session means to webhook receivers: the public `session.*`
 * events (subscriptions and a session's own webhook_url) and, for exam-booking jobs, the old booking
 * server's `booking_started` / `status_update` / `qr_code_update` / `booking_completed`. Pure mapping.
 */
import { Buffer } from "node:buffer";
import {
  bookingMessage,
  bookingResult,
  isRunningBookingStatus,
} from "../automation/legacy/booking_status.ts";

/** A stored session event as the store hands it over (type and data of automation_events). */
export interface StoredEvent {
  type: string;
  data: Record<string, unknown>;
}

/** The session a change belongs to. */
export interface SessionInfo {
  id: string;
  flow: string;
  input: unknown;
  progress: number;
}

/** The columns a change wrote (the store's patch), as far as webhooks read them. */
export interface ChangeInfo {
  startedAt?: unknown;
  promptImage?: Uint8Array | null;
}

/** A public event: its type and `data`. */
export interface PublicEvent {
  type: string;
  data: Record<string, unknown>;
}

const FINAL: Record<string, string> = {
  succeeded: "session.completed",
  failed: "session.failed",
  expired: "session.expired",
  cancelled: "session.cancelled",
};

/** Every public event type a subscription may name. */
export const EVENT_TYPES = [
  "session.started",
  "session.progress",
  "session.prompt",
  "session.completed",
  "session.failed",
  "session.expired",
  "session.cancelled",
  "device.claimed",
  "device.released",
  "device.event",
  "firmware.released",
  "firmware.offered",
] as const;

/** A PNG as a data URL. */
export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

/** The public `session.*` events of one stored change. */
export function sessionEvents(
  session: SessionInfo,
  events: StoredEvent[],
  change: ChangeInfo,
): PublicEvent[] {
  const base = { session_id: session.id, flow: session.flow };
  const out: PublicEvent[] = [];
  const result = events.find((e) => e.type === "result")?.data.result;
  const error = events.find((e) => e.type === "error")?.data;
  for (const e of events) {
    if (e.type === "status" && e.data.status === "running" && change.startedAt) {
      out.push({ type: "session.started", data: { ...base, status: "running" } });
    } else if (e.type === "status" && typeof e.data.status === "string" && FINAL[e.data.status]) {
      out.push({
        type: FINAL[e.data.status],
        data: {
          ...base,
          status: e.data.status,
          ...(e.data.status === "succeeded" ? { result: result ?? null } : {}),
          ...(error ? { error: error.message, ...(error.step ? { error_step: error.step } : {}) } : {}),
        },
      });
    } else if (e.type === "progress") {
      out.push({ type: "session.progress", data: { ...base, ...e.data } });
    } else if (e.type === "prompt") {
      const image = change.promptImage ? { image: pngDataUrl(change.promptImage) } : {};
      out.push({ type: "session.prompt", data: { ...base, prompt: e.data.prompt, ...image } });
    }
  }
  return out;
}

/** A QR refresh of the open prompt `prompt` as a `session.prompt` event. */
export function promptRefresh(session: SessionInfo, prompt: unknown, png: Uint8Array): PublicEvent {
  return {
    type: "session.prompt",
    data: { session_id: session.id, flow: session.flow, prompt, image: pngDataUrl(png) },
  };
}

/**
 * The booking frontend's events for public events of an exam-booking job (without the envelope's
 * `job_id`, `user_id` and `timestamp`, added when the body is rendered).
 */
export function bookingEvents(session: SessionInfo, events: PublicEvent[], now: Date): PublicEvent[] {
  const out: PublicEvent[] = [];
  for (const e of events) {
    if (e.type === "session.started") {
      out.push({
        type: "booking_started",
        data: { config: session.input ?? {}, estimated_duration: "60-180 seconds" },
      });
    } else if (
      e.type === "session.progress" && e.data.key === "status" && isRunningBookingStatus(e.data.value)
    ) {
      out.push({
        type: "status_update",
        data: { status: e.data.value, message: bookingMessage(e.data.value), progress: e.data.percentage },
      });
    } else if (e.type === "session.prompt" && typeof e.data.image === "string") {
      const expiresAt = Date.parse((e.data.prompt as { expires_at?: string } | undefined)?.expires_at ?? "");
      const expiresIn = Number.isFinite(expiresAt)
        ? Math.max(0, Math.round((expiresAt - now.getTime()) / 1000))
        : 60;
      out.push({ type: "qr_code_update", data: { qr_code_data: e.data.image, expires_in: expiresIn } });
    } else if (e.type === "session.completed") {
      out.push({
        type: "status_update",
        data: { status: "completed", message: bookingMessage("completed"), progress: 100 },
      });
      out.push({
        type: "booking_completed",
        data: { success: true, booking_result: bookingResult(e.data.result) },
      });
    } else if (e.type.startsWith("session.") && FINAL_TYPES.has(e.type)) {
      const status = e.type === "session.cancelled" ? "stopped" : "failed";
      const error = typeof e.data.error === "string" ? e.data.error : null;
      out.push({
        type: "status_update",
        data: { status, message: bookingMessage(status, error), progress: session.progress },
      });
      out.push({ type: "booking_completed", data: { success: false, booking_result: null, error } });
    }
  }
  return out;
}

const FINAL_TYPES = new Set(["session.failed", "session.expired", "session.cancelled"]);
