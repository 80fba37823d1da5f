/** The contract between the automation engine and flows: defineFlow and the context a flow runs with. */
import type { Page } from "puppeteer-core";
import type { z } from "zod";

/** What a prompt asks the human for. */
export type PromptKind = "code" | "captcha" | "qr" | "credentials" | "choice" | "text";

/** One input field of a `credentials` prompt (or extra fields of a `captcha` prompt). */
export interface PromptField {
  name: string;
  label: string;
  type?: "text" | "password";
}

/** One option of a `choice` prompt. */
export interface PromptOption {
  value: string;
  label: string;
}

/** A question a flow puts to the human. */
export interface PromptSpec {
  kind: PromptKind;
  /** Shown to the human, e.g. "Enter the code we sent to +36 20 *** 4567". */
  message: string;
  /** `credentials` fields, or extra fields answered with a `captcha`. */
  fields?: PromptField[];
  /** `choice` options. */
  options?: PromptOption[];
  /** PNG bytes shown with the prompt (`captcha`, `qr`); `qr` images are then replaced with `showImage`. */
  image?: Uint8Array;
  /** Why the previous answer was refused (e.g. "Invalid captcha"), when this prompt repeats one. */
  error?: string;
  /** Answers to secret prompts are never persisted or logged. Default: true for code, captcha, credentials. */
  secret?: boolean;
  /** Overrides SESSION_PROMPT_TIMEOUT_S for this prompt. */
  timeoutS?: number;
}

/** A human's answer: a string, or an object of field values for prompts with `fields`. */
export type Answer = string | Record<string, string>;

/** An open prompt: its id, the answer when it comes, and a way to close it without an answer (e.g. a QR scanned). */
export interface PromptHandle {
  readonly id: string;
  /** Resolves with the answer; rejects when the prompt times out or the session ends. */
  readonly answer: Promise<Answer>;
  /** Closes the prompt (no answer expected any more). */
  close(): Promise<void>;
}

/** What a flow's `run` receives. */
export interface FlowContext<I> {
  /** A fresh page in the session's own isolated browser context. */
  page: Page;
  /** The validated input. */
  input: I;
  /** Aborted when the session is cancelled or expires. */
  signal: AbortSignal;
  /** Server-side credentials for this flow from config (e.g. username, password); may be empty. */
  secrets: Record<string, string>;
  /** Base URL of the portals (the built-in demo portal unless configured), without a trailing slash. */
  portalUrl: string;
  /** Reports progress: percentage 0–100, and optionally a data item (key, value). */
  progress(percentage: number, key?: string, value?: unknown): Promise<void>;
  /** Opens a prompt and waits for its answer, closing it afterwards. */
  ask(prompt: PromptSpec): Promise<Answer>;
  /** Opens a prompt without waiting (for `qr`: stream images with showImage, then close it). */
  prompt(prompt: PromptSpec): Promise<PromptHandle>;
  /** Replaces the image of an open prompt (QR codes that change every second). */
  showImage(promptId: string, png: Uint8Array): Promise<void>;
  /** Saves a file the client can download from /api/v1/sessions/:id/artifacts/:name. */
  artifact(name: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

/** A flow: a named, documented, input-validated script that drives one browser context. */
export interface Flow<S extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  input: S;
  /** Input fields that are secrets (e.g. a password): kept in memory for the run, stored as "[redacted]". */
  secretInput?: string[];
  /** Runs the flow; its return value is the session's result. Throw FlowError for an expected failure. */
  run(ctx: FlowContext<z.output<S>>): Promise<unknown>;
}

/** An expected failure with a message fit for the user (e.g. "No vehicle found with plate ZZZ999"). */
export class FlowError extends Error {
  override name = "FlowError";
  /** The step that failed, e.g. "login" or "enable api". */
  readonly step?: string;
  constructor(message: string, options?: { step?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.step = options?.step;
  }
}

/** Declares a flow; keeps the input schema and run function's types tied together. */
export function defineFlow<S extends z.ZodType>(flow: Flow<S>): Flow<S> {
  return flow;
}
