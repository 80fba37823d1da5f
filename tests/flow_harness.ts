/**
 * A small stand-in for the automation engine, for running flows in real Chromium in tests: it
 * implements FlowContext by recording progress, prompts, images and artifacts, and lets the test play
 * the human through an `answer` callback. It also serves the demo portal on a local port.
 */
import { Hono } from "hono";
import puppeteer, { type Browser } from "puppeteer-core";
import type { Answer, Flow, FlowContext, PromptHandle, PromptSpec } from "../src/automation/flow.ts";
import { CHROME_FLAGS, findChrome } from "../src/automation/chrome.ts";
import { type DemoDebugSnapshot, demoPortal } from "../src/demo/mod.ts";
import { loadConfig } from "../src/config.ts";

/** Launches Debian's Chromium; `await using` closes it. */
export async function launchBrowser(): Promise<Browser> {
  return await puppeteer.launch({ executablePath: await findChrome(), headless: true, args: CHROME_FLAGS });
}

/** The demo portal on 127.0.0.1, port 0, mounted at /demo like the main app does. */
export interface DemoServer extends AsyncDisposable {
  /** The portal base URL flows get as `ctx.portalUrl`, e.g. http://127.0.0.1:41234/demo. */
  readonly url: string;
  /** What a human would read off their phone or screen (SMS codes, captcha answers, BankID). */
  debug(): Promise<DemoDebugSnapshot>;
  /** "Scans" the QR code: approves every pending BankID login; answers how many. */
  approveQr(): Promise<number>;
  /** Moves the portal's clock forward (e.g. past the BankID timeout). */
  advance(ms: number): void;
  /** Stops the portal's clock (the BankID QR then stops changing). */
  freeze(): void;
  /** performance.now() of each BankID QR refresh the page fetched (GET /demo/booking/qr/:token). */
  readonly qrPolls: number[];
}

/** Serves a fresh demo portal (its own state) until disposed. */
export function serveDemo(): DemoServer {
  let offset = 0;
  let frozenAt: number | undefined;
  const qrPolls: number[] = [];
  const app = new Hono()
    .use("/demo/booking/qr/*", async (_c, next) => {
      await next();
      qrPolls.push(performance.now());
    })
    .route("/demo", demoPortal({ now: () => frozenAt ?? Date.now() + offset }));
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/demo`;
  return {
    url,
    qrPolls,
    async debug() {
      const res = await fetch(`${url}/_debug`);
      if (!res.ok) throw new Error(`GET /_debug answered ${res.status}`);
      return await res.json();
    },
    async approveQr() {
      const res = await fetch(`${url}/_debug/qr/approve`, { method: "POST" });
      if (!res.ok) throw new Error(`POST /_debug/qr/approve answered ${res.status}`);
      return (await res.json()).approved;
    },
    advance(ms) {
      offset += ms;
      if (frozenAt !== undefined) frozenAt += ms;
    },
    freeze() {
      frozenAt ??= Date.now() + offset;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A prompt as the harness saw it. */
export interface RecordedPrompt {
  readonly id: string;
  readonly spec: PromptSpec;
  /** performance.now() when opened and closed. */
  readonly openedAt: number;
  closedAt?: number;
  /** Images sent with showImage, with the time they arrived. */
  readonly images: { at: number; png: Uint8Array }[];
  answer?: Answer;
  /** Aborted when the prompt closes, so an answerer stops waiting. */
  readonly signal: AbortSignal;
}

/** Everything a flow run produced. */
export interface FlowRecord {
  readonly progress: { percentage: number; key?: string; value?: unknown }[];
  readonly prompts: RecordedPrompt[];
  readonly artifacts: Map<string, { bytes: Uint8Array; contentType: string }>;
  result?: unknown;
  /** What `run` threw, if it did. */
  error?: unknown;
  /** Milliseconds from the start of `run` to its end. */
  elapsedMs: number;
}

/** Plays the human: answers a prompt (for `prompt()`-style prompts, resolves its `answer`). */
export type Answerer = (prompt: RecordedPrompt, record: FlowRecord) => Promise<Answer>;

/** Options of `runFlow`. */
export interface RunOptions {
  input: unknown;
  portalUrl: string;
  secrets?: Record<string, string>;
  answer?: Answerer;
  /** Cancels the run, like a session being cancelled. */
  signal?: AbortSignal;
}

/**
 * Runs `flow` in a fresh browser context of `browser` (closed afterwards), as the engine would:
 * input parsed by the flow's schema, prompts answered by `options.answer`. Never throws for a flow
 * failure: the error is in the record.
 */
export async function runFlow(browser: Browser, flow: Flow, options: RunOptions): Promise<FlowRecord> {
  const record: FlowRecord = { progress: [], prompts: [], artifacts: new Map(), elapsedMs: 0 };
  const input = flow.input.parse(options.input);
  const closers = new Map<string, () => void>();
  const answering: Promise<unknown>[] = [];
  const answerer: Answerer = options.answer ??
    ((p) => Promise.reject(new Error(`The test did not expect a ${p.spec.kind} prompt`)));

  const openPrompt = (spec: PromptSpec): RecordedPrompt => {
    const controller = new AbortController();
    const prompt: RecordedPrompt = {
      id: `prompt-${record.prompts.length + 1}`,
      spec,
      openedAt: performance.now(),
      images: spec.image ? [{ at: performance.now(), png: spec.image }] : [],
      signal: controller.signal,
    };
    record.prompts.push(prompt);
    closers.set(prompt.id, () => {
      if (prompt.closedAt !== undefined) return;
      prompt.closedAt = performance.now();
      controller.abort(new Error(`${prompt.id} closed`));
    });
    return prompt;
  };
  const closePrompt = (id: string) => closers.get(id)?.();
  /** The answer, or a rejection once the prompt closes (the session ended) before it came. */
  const answerOrClose = (prompt: RecordedPrompt) => {
    const answered = answerer(prompt, record);
    answering.push(answered.catch(() => {}));
    return Promise.race([
      answered,
      untilClosed(prompt),
    ]);
  };
  const cancelAll = () => {
    for (const close of closers.values()) close();
  };
  options.signal?.addEventListener("abort", cancelAll, { once: true });

  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(loadConfig({}).FLOW_STEP_TIMEOUT_S * 1000); // as a session sets it
    const ctx: FlowContext<unknown> = {
      page,
      input,
      signal: options.signal ?? new AbortController().signal,
      secrets: options.secrets ?? {},
      portalUrl: options.portalUrl,
      progress(percentage, key, value) {
        if (!(percentage >= 0 && percentage <= 100)) {
          throw new RangeError(`progress ${percentage} is not 0–100`);
        }
        record.progress.push(key === undefined ? { percentage } : { percentage, key, value });
        return Promise.resolve();
      },
      async ask(spec) {
        const prompt = openPrompt(spec);
        try {
          prompt.answer = await answerOrClose(prompt);
          return prompt.answer;
        } finally {
          closePrompt(prompt.id);
        }
      },
      prompt(spec) {
        const prompt = openPrompt(spec);
        const answer = answerOrClose(prompt).then((a) => prompt.answer = a);
        answer.catch(() => {}); // The flow may never look at the answer of a prompt it closes itself.
        const handle: PromptHandle = {
          id: prompt.id,
          answer,
          close() {
            closePrompt(prompt.id);
            return Promise.resolve();
          },
        };
        return Promise.resolve(handle);
      },
      showImage(promptId, png) {
        const prompt = record.prompts.find((p) => p.id === promptId);
        if (!prompt || prompt.closedAt !== undefined) {
          return Promise.reject(new Error(`No open prompt ${promptId}`));
        }
        prompt.images.push({ at: performance.now(), png });
        return Promise.resolve();
      },
      artifact(name, bytes, contentType) {
        if (!/^[\w.-]+$/.test(name)) return Promise.reject(new Error(`Bad artifact name ${name}`));
        record.artifacts.set(name, { bytes, contentType });
        return Promise.resolve();
      },
    };
    const started = performance.now();
    try {
      record.result = await flow.run(ctx);
    } catch (error) {
      record.error = error;
    }
    record.elapsedMs = performance.now() - started;
  } finally {
    cancelAll(); // the session ended: no prompt stays open
    options.signal?.removeEventListener("abort", cancelAll);
    await settleWithin(Promise.all(answering), 5_000, "an answerer did not stop after its prompt closed");
    await context.close();
  }
  return record;
}

/** Waits for `promise`, failing with `message` after `ms` (the timer is always cleared). */
async function settleWithin(promise: Promise<unknown>, ms: number, message: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects once the prompt closes: for answerers that never answer (the human walked away). */
export function untilClosed(prompt: RecordedPrompt): Promise<never> {
  return new Promise((_, reject) => {
    if (prompt.signal.aborted) return reject(prompt.signal.reason);
    prompt.signal.addEventListener("abort", () => reject(prompt.signal.reason), { once: true });
  });
}

/** Resolves once `condition()` holds, polling every 50 ms; rejects after `timeoutMs` or on `signal`. */
export async function until(
  condition: () => boolean,
  options: { signal?: AbortSignal; timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = performance.now() + (options.timeoutMs ?? 15_000);
  while (!condition()) {
    options.signal?.throwIfAborted();
    if (performance.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "a condition"}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 50);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", done);
        resolve();
      }
      options.signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/** How many different images a prompt has shown. */
export function distinctImages(prompt: RecordedPrompt): number {
  const latin1 = new TextDecoder("latin1");
  return new Set(prompt.images.map((i) => latin1.decode(i.png))).size;
}

/** An answerer for a `qr` prompt: approves BankID once the prompt has shown `distinct` different QR codes. */
export function approveQrAfter(portal: DemoServer, distinct = 3): Answerer {
  return async (prompt) => {
    await until(() => distinctImages(prompt) >= distinct, {
      signal: prompt.signal,
      what: `${distinct} distinct QR images`,
    });
    await portal.approveQr();
    return "approved";
  };
}
