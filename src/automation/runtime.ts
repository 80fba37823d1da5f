/** The flow runtime: prompt views, answer checks, and the FlowContext handed to a flow's run(). */
import type { Page } from "puppeteer-core";
import type { z } from "zod";
import { ConflictError, ValidationError } from "../errors.ts";
import type { FieldError } from "../errors.ts";
import { ARTIFACT_NAME } from "./session_store.ts";
import {
  type Answer,
  type FlowContext,
  FlowError,
  type PromptField,
  type PromptHandle,
  type PromptKind,
  type PromptOption,
  type PromptSpec,
} from "./flow.ts";

/** Prompt kinds a flow may open. */
export const PROMPT_KINDS: readonly PromptKind[] = ["code", "captcha", "qr", "credentials", "choice", "text"];

/** Kinds whose answers are secret unless the flow says otherwise. */
const SECRET_BY_DEFAULT: readonly PromptKind[] = ["code", "captcha", "credentials"];

/** Longest accepted answer (per string). */
export const MAX_ANSWER_CHARS = 1000;

/** An open prompt as clients see it and the database keeps it (never with an answer). */
export interface PromptView {
  id: string;
  kind: PromptKind;
  message: string;
  fields?: PromptField[];
  options?: PromptOption[];
  error?: string;
  secret: boolean;
  has_image: boolean;
  opened_at: string;
  expires_at: string;
}

/** Checks a flow's prompt spec; a malformed one is a bug in the flow. */
export function checkPromptSpec(spec: PromptSpec): void {
  if (!PROMPT_KINDS.includes(spec.kind)) throw new TypeError(`Unknown prompt kind "${spec.kind}"`);
  if (typeof spec.message !== "string" || !spec.message) throw new TypeError("A prompt needs a message");
  if (spec.kind === "choice" && !spec.options?.length) throw new TypeError("A choice prompt needs options");
  if (spec.kind === "credentials" && !spec.fields?.length) {
    throw new TypeError("A credentials prompt needs fields");
  }
  if ((spec.kind === "captcha" || spec.kind === "qr") && !spec.image) {
    throw new TypeError(`A ${spec.kind} prompt needs an image`);
  }
}

/** Builds the view of a prompt opened `now` that times out after `timeoutS`. */
export function promptView(id: string, spec: PromptSpec, now: Date, timeoutS: number): PromptView {
  return {
    id,
    kind: spec.kind,
    message: spec.message,
    ...(spec.fields ? { fields: spec.fields.map((f) => ({ ...f })) } : {}),
    ...(spec.options ? { options: spec.options.map((o) => ({ ...o })) } : {}),
    ...(spec.error ? { error: spec.error } : {}),
    secret: spec.secret ?? SECRET_BY_DEFAULT.includes(spec.kind),
    has_image: !!spec.image,
    opened_at: now.toISOString(),
    expires_at: new Date(now.getTime() + timeoutS * 1000).toISOString(),
  };
}

/**
 * Checks that `value` has the shape `prompt` asks for; throws a 422 listing the fields otherwise.
 * Prompts with fields take an object with a non-empty string per field (a captcha with fields also
 * `captcha`, the text in the image); a choice takes one of its option values; the rest take a string.
 */
export function checkAnswer(prompt: Pick<PromptView, "kind" | "fields" | "options">, value: unknown): Answer {
  const errors: FieldError[] = [];
  const str = (v: unknown, field: string) => {
    if (typeof v !== "string" || v.trim() === "") {
      errors.push({ field, message: "must be a non-empty string" });
    } else if (v.length > MAX_ANSWER_CHARS) {
      errors.push({ field, message: `must be at most ${MAX_ANSWER_CHARS} characters` });
    }
  };
  const names = prompt.fields?.map((f) => f.name) ?? [];
  if (prompt.kind === "captcha" && names.length && !names.includes("captcha")) names.push("captcha");
  if (names.length || prompt.kind === "credentials") {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ValidationError([{ field: "value", message: `must be an object with ${names.join(", ")}` }]);
    }
    const obj = value as Record<string, unknown>;
    for (const name of names) str(obj[name], `value.${name}`);
    for (const k of Object.keys(obj)) {
      if (!names.includes(k)) errors.push({ field: `value.${k}`, message: "is not a field of this prompt" });
    }
    if (errors.length) throw new ValidationError(errors);
    return Object.fromEntries(names.map((n) => [n, obj[n] as string]));
  }
  str(value, "value");
  if (errors.length) throw new ValidationError(errors);
  if (prompt.kind === "choice" && !prompt.options?.some((o) => o.value === value)) {
    throw new ValidationError([{
      field: "value",
      message: `must be one of ${prompt.options?.map((o) => o.value).join(", ")}`,
    }]);
  }
  return value as string;
}

/** What the runtime needs from the session service for one running session. */
export interface SessionOps {
  progress(percentage: number, key?: string, value?: unknown): Promise<void>;
  prompt(spec: PromptSpec): Promise<PromptHandle>;
  showImage(promptId: string, png: Uint8Array): Promise<void>;
  artifact(name: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

/** Builds the FlowContext of src/automation/flow.ts for one session. */
export function createFlowContext<I>(
  base: { page: Page; input: I; signal: AbortSignal; secrets: Record<string, string>; portalUrl: string },
  ops: SessionOps,
): FlowContext<I> {
  return {
    page: base.page,
    input: base.input,
    signal: base.signal,
    secrets: { ...base.secrets },
    portalUrl: base.portalUrl.replace(/\/+$/, ""),
    progress: (percentage, key, value) => ops.progress(percentage, key, value),
    prompt: (spec) => ops.prompt(spec),
    async ask(spec) {
      const handle = await ops.prompt(spec);
      try {
        return await handle.answer;
      } finally {
        await handle.close();
      }
    },
    showImage: (promptId, png) => ops.showImage(promptId, png),
    artifact: (name, bytes, contentType) => ops.artifact(name, bytes, contentType),
  };
}

/** The message and step a failed session reports for `err` thrown by its flow. */
export function describeFailure(
  err: unknown,
  flowName: string,
  browserAlive: boolean,
): { message: string; step?: string; expected: boolean } {
  if (err instanceof FlowError) return { message: err.message, step: err.step, expected: true };
  if (!browserAlive) {
    return { message: BROWSER_CRASHED, expected: true };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { message: `The flow ${flowName} failed unexpectedly: ${text.slice(0, 300)}`, expected: false };
}

/** The error of sessions whose browser died under them. */
export const BROWSER_CRASHED =
  "The browser crashed or disconnected; this session cannot continue. Start a new session: it gets a fresh browser.";

/** The error of a session whose page died under it (renderer crash or kill, the tab closed). */
export const PAGE_CRASHED =
  "The browser page crashed (its renderer process died or the tab was closed); this session cannot continue. " +
  "Start a new session.";

/** Largest artifact a flow may save. */
export const MAX_ARTIFACT_BYTES = 20 * 1024 * 1024;
/** Largest progress data value (JSON), so a flow cannot bloat every session read. */
const MAX_PROGRESS_VALUE_CHARS = 64 * 1024;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+"-]+)*$/;

/** Checks an artifact a flow saves; a bad one is a bug in the flow. */
export function checkArtifact(a: { name: string; contentType: string; bytes: Uint8Array }): void {
  if (!ARTIFACT_NAME.test(a.name)) {
    throw new TypeError(
      `Artifact name "${a.name}" must be 1–100 letters, digits, dots, dashes or underscores`,
    );
  }
  if (!CONTENT_TYPE.test(a.contentType)) {
    throw new TypeError(`Invalid artifact content type "${a.contentType}"`);
  }
  if (!(a.bytes instanceof Uint8Array)) throw new TypeError("An artifact needs bytes");
  if (a.bytes.length > MAX_ARTIFACT_BYTES) {
    throw new TypeError(`Artifact ${a.name} is larger than ${MAX_ARTIFACT_BYTES} bytes`);
  }
}

/** The `progress` event data of a flow's progress(percentage, key, value) call, and its data item. */
export function progressData(
  percentage: number,
  key?: string,
  value?: unknown,
): { data: { percentage: number; key?: string; value?: unknown }; item?: { key: string; value: unknown } } {
  if (!Number.isFinite(percentage)) throw new TypeError("progress percentage must be a number");
  const pct = Math.round(Math.min(100, Math.max(0, percentage)));
  if (key === undefined) return { data: { percentage: pct } };
  if (typeof key !== "string" || !key || key.length > 100) {
    throw new TypeError("progress key must be 1–100 characters");
  }
  const v = toJson(value ?? null);
  if (JSON.stringify(v).length > MAX_PROGRESS_VALUE_CHARS) {
    throw new TypeError(`progress value ${key} is too large`);
  }
  return { data: { percentage: pct, key, value: v }, item: { key, value: v } };
}

/** A JSON-safe copy of a flow's value (results and progress data are stored as jsonb). */
export function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) ?? "null");
  } catch (err) {
    throw new TypeError(`The value is not JSON-serialisable: ${(err as Error).message}`);
  }
}

/** The message of a session whose browser context could not be opened. */
export function startFailure(err: unknown): string {
  return err instanceof Error && err.name === "BrowserUnavailableError"
    ? err.message
    : `Cannot start session: opening a browser context failed (${(err as Error).message})`;
}

/** What ending a session as `status` stores (events and row update) and emits (status and finished). */
export function sessionEnd(
  status: string,
  outcome: { result?: unknown; error?: string | null; step?: string },
  now: Date,
): {
  events: { type: string; data: Record<string, unknown> }[];
  patch: Record<string, unknown>;
  status: Record<string, unknown>;
  finished: Record<string, unknown>;
} {
  const result = status === "succeeded" ? (outcome.result ?? null) : null;
  const error = outcome.error ?? null;
  const statusData = { status, ...(error ? { error } : {}) };
  const events = [
    ...(status === "succeeded" ? [{ type: "result", data: { result } }] : []),
    ...(error
      ? [{ type: "error", data: { message: error, ...(outcome.step ? { step: outcome.step } : {}) } }]
      : []),
    { type: "status", data: statusData },
  ];
  return {
    events,
    patch: {
      status,
      result,
      error,
      errorStep: outcome.step ?? null,
      prompt: null,
      promptImage: null,
      sealedInput: null,
      finishedAt: now,
    },
    status: statusData,
    finished: { status, result, error, ...(outcome.step ? { error_step: outcome.step } : {}) },
  };
}

/** The 409 of an answer to prompt `promptId` when `openId` (or none) is the open one. */
export function staleAnswer(promptId: string, openId: string | undefined): ConflictError {
  return new ConflictError(
    openId
      ? `Prompt ${promptId} is not open; the open prompt is ${openId}`
      : `Prompt ${promptId} is not open; the session has no open prompt`,
    { open_prompt: openId ?? null },
  );
}

/** A copy of `input` with the flow's secret fields replaced, fit for the database. */
export function redactInput(input: unknown, keys: string[] = []): unknown {
  if (!keys.length || typeof input !== "object" || input === null) return input;
  const copy: Record<string, unknown> = { ...input as Record<string, unknown> };
  for (const k of keys) if (copy[k] !== undefined) copy[k] = "[redacted]";
  return copy;
}

/** `input` parsed by `flow`'s schema; 422 naming each bad field as `input.…`. */
export function parseFlowInput<T>(flow: { name: string; input: z.ZodType<T> }, input: unknown): T {
  const parsed = flow.input.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => ({
    field: ["input", ...i.path.map(String)].join("."),
    message: i.message,
  }));
  throw new ValidationError(fields, `The input does not fit the flow ${flow.name}`);
}
