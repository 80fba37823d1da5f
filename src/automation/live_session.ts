/**
 * One running session on this instance: owns its abort controller, browser lease, open prompt and write
 * chain, and moves through the statuses of status.ts only by transition(). Disposing it ends the session.
 */
import type { Page } from "puppeteer-core";
import { randomToken } from "../crypto.ts";
import type { Answer, Flow, PromptHandle, PromptSpec } from "./flow.ts";
import type { SessionEvent } from "./hub.ts";
import type { LiveEnv, LiveSessionInit } from "./live_env.ts";
import { onPageDeath } from "./page_death.ts";
import type { Lease } from "./pool.ts";
import {
  BROWSER_CRASHED,
  checkAnswer,
  checkArtifact,
  checkPromptSpec,
  createFlowContext,
  describeFailure,
  PAGE_CRASHED,
  progressData,
  type PromptView,
  promptView,
  sessionEnd,
  staleAnswer,
  startFailure,
  toJson,
} from "./runtime.ts";
import type { NewArtifact, NewEvent, SessionPatch } from "./session_store.ts";
import {
  canMove,
  IllegalTransitionError,
  INTERRUPTED,
  isFinalStatus,
  PromptClosedError,
  SessionEndedError,
  type SessionStatus,
} from "./status.ts";
import { imageEvent, type OpenPromptState } from "./view.ts";

export type { LiveEnv } from "./live_env.ts";

interface OpenPrompt extends OpenPromptState {
  deadline: number;
  timeoutS: number;
  imageDirty: boolean;
  imagePersistedAt: number;
  resolve(answer: Answer): void;
  reject(err: Error): void;
}

/** A session this instance runs. */
export class LiveSession implements AsyncDisposable {
  readonly id: string;
  readonly owner: string;
  readonly flow: Flow;
  readonly webhookUrl?: string;
  readonly createdAt: number;
  expiresAt: number;
  readonly #env: LiveEnv;
  readonly #input: unknown;
  readonly #abort = new AbortController();
  #status: SessionStatus = "queued";
  #seq = 1;
  #data: Record<string, unknown> = {};
  #lease?: Lease;
  #page?: Page;
  #prompt?: OpenPrompt;
  /** The context and page being opened (an end meanwhile closes them once they exist). */
  #opening?: Promise<{ lease: Lease }>;
  #chain: Promise<unknown> = Promise.resolve();
  #finishing?: Promise<void>;
  readonly #promptTimeoutS: number;
  constructor(env: LiveEnv, init: LiveSessionInit) {
    this.#env = env;
    this.id = init.id;
    this.owner = init.owner;
    this.flow = init.flow;
    this.#input = init.input;
    this.webhookUrl = init.webhookUrl;
    this.createdAt = init.createdAt;
    this.expiresAt = init.createdAt + (init.lifetimeS ?? env.maxLifetimeS) * 1000;
    this.#promptTimeoutS = init.promptTimeoutS ?? env.promptTimeoutS;
    this.#seq = init.seq ?? 1;
  }

  /** Where the session is now. */
  get status(): SessionStatus {
    return this.#status;
  }

  /** True once the session has ended (or is ending). */
  get final(): boolean {
    return isFinalStatus(this.#status);
  }

  /** Sequence number of the latest stored event. */
  get seq(): number {
    return this.#seq;
  }

  /** The browser generation it runs in, once it has a context. */
  get generation(): number | undefined {
    return this.#lease?.generation;
  }

  /** The browser tab the flow drives, while it runs (the live view streams it). */
  get page(): Page | undefined {
    return this.final ? undefined : this.#page;
  }

  /** The open prompt (view and latest image), if any. */
  get openPrompt(): OpenPromptState | undefined {
    return this.#prompt;
  }

  /** Moves to `to`; an illegal move is a bug and throws. */
  transition(to: SessionStatus): void {
    if (!canMove(this.#status, to)) throw new IllegalTransitionError(this.#status, to);
    this.#status = to;
  }

  /** The `image` event of the open prompt's current frame, if it has one. */
  imageEvent(): SessionEvent | undefined {
    const open = this.#prompt;
    return open?.image ? imageEvent(this.#seq, open, this.#env.clock.now()) : undefined;
  }

  // ------------------------------------------------------------------ running

  /** Opens a browser context and runs the flow to its end; never throws. */
  async run(): Promise<void> {
    const env = this.#env;
    let page: Page;
    try {
      this.transition("running");
      await this.#append([{ type: "status", data: { status: "running" } }], {
        status: "running",
        startedAt: env.clock.now(),
      });
      env.emit(this, "session.status", { status: "running" });
      if (this.final) return; // ended while "running" was stored: no context to open (and none to leak)
      const opening = this.#opening = env.pool.openPage(this.id, env.leaseOwner);
      const opened = await opening;
      if (this.final) {
        await env.pool.closeContext(opened.lease);
        return;
      }
      this.#lease = opened.lease;
      page = this.#page = opened.page;
      page.setDefaultTimeout(env.stepTimeoutMs);
      this.#watchPage(page);
    } catch (err) {
      if (this.final) return;
      env.log.error("session could not start", { session_id: this.id, error: err });
      await this.finish("failed", { error: startFailure(err) });
      return;
    }
    const generation = this.#lease.generation;
    const ctx = createFlowContext({
      page,
      input: this.#input,
      signal: this.#abort.signal,
      secrets: env.secrets(this.flow.name),
      portalUrl: env.portalUrl,
    }, {
      progress: (percentage, key, value) => this.#progress(percentage, key, value),
      prompt: (spec) => this.#openPrompt(spec),
      showImage: (promptId, png) => this.#showImage(promptId, png),
      artifact: (name, bytes, contentType) => this.#saveArtifact({ name, bytes, contentType }),
    });
    try {
      const result = await this.flow.run(ctx);
      if (!this.final) await this.finish("succeeded", { result: toJson(result) });
    } catch (err) {
      if (this.final) return;
      const failure = describeFailure(err, this.flow.name, env.pool.isAlive(generation));
      if (!failure.expected) {
        env.log.error("flow failed unexpectedly", { session_id: this.id, flow: this.flow.name, error: err });
      }
      await this.finish("failed", { error: failure.message, step: failure.step });
    }
  }

  /** A page that dies fails the session at once (page_death.ts), as a browser crash when the browser went too. */
  #watchPage(page: Page): void {
    onPageDeath(page, this.#abort.signal, (why) => {
      if (this.final) return;
      this.#env.log.warn("session page died", { session_id: this.id, flow: this.flow.name, why });
      const browserUp = page.browser().connected && this.#env.pool.isAlive(this.generation ?? -1);
      void this.finish("failed", { error: browserUp ? PAGE_CRASHED : BROWSER_CRASHED });
    });
  }

  /** Ends the session once, whatever path gets here first: aborts the flow, closes its context, stores the end. */
  finish(
    status: SessionStatus,
    outcome: { result?: unknown; error?: string | null; step?: string } = {},
  ): Promise<void> {
    if (this.#finishing) return this.#finishing;
    this.transition(status);
    this.#finishing = (async () => {
      const env = this.#env;
      const reason = new SessionEndedError(outcome.error ?? `The session was ${status}`);
      this.#abort.abort(reason);
      const open = this.#prompt;
      this.#prompt = undefined;
      open?.reject(reason);
      const lease = this.#lease ?? (await this.#opening?.catch(() => undefined))?.lease;
      if (lease) await env.pool.closeContext(lease);
      const end = sessionEnd(status, outcome, env.clock.now());
      try {
        await this.#append(end.events, end.patch);
      } catch (err) {
        env.log.error("storing the end of a session failed", { session_id: this.id, error: err });
      }
      env.emit(this, "session.status", end.status);
      env.emit(this, "session.finished", end.finished);
      env.log.info("session finished", {
        session_id: this.id,
        flow: this.flow.name,
        status,
        duration_ms: env.clock.now().getTime() - this.createdAt,
      });
      env.ended(this);
    })();
    return this.#finishing;
  }

  /** Ends the session as interrupted if it is still active. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.final
      ? (this.#finishing ?? Promise.resolve())
      : this.finish("failed", { error: INTERRUPTED });
  }

  // ------------------------------------------------------------------ commands from clients

  /** Answers the open prompt `promptId`: 409 when it is not the open one, 422 when `value` does not fit. */
  async answer(promptId: string, value: unknown): Promise<void> {
    const open = this.#prompt;
    if (!open || open.view.id !== promptId) throw staleAnswer(promptId, open?.view.id);
    const answer = checkAnswer(open.view, value);
    this.#prompt = undefined;
    this.transition("running");
    const written = this.#append([
      { type: "answer", data: open.view.secret ? { prompt: promptId } : { prompt: promptId, value: answer } },
      { type: "status", data: { status: "running" } },
    ], { status: "running", prompt: null, promptImage: null });
    open.resolve(answer);
    await written;
    this.#env.emit(this, "session.status", { status: "running" });
  }

  /** Gives the session (and its open prompt) `seconds` more. */
  async extend(seconds: number): Promise<void> {
    this.expiresAt += seconds * 1000;
    const open = this.#prompt;
    if (open) {
      open.deadline += seconds * 1000;
      open.view = { ...open.view, expires_at: new Date(open.deadline).toISOString() };
    }
    await this.#append([{
      type: "extended",
      data: {
        expires_at: new Date(this.expiresAt).toISOString(),
        ...(open ? { prompt_expires_at: open.view.expires_at } : {}),
      },
    }], { expiresAt: new Date(this.expiresAt), ...(open ? { prompt: open.view } : {}) });
  }

  /** Ends the session when a deadline has passed, or writes a pending QR frame; for the reaper. */
  reap(now: number): Promise<void> | undefined {
    if (this.final) return undefined;
    const open = this.#prompt;
    if (now >= this.expiresAt) {
      return this.finish("expired", {
        error: `The session reached its maximum lifetime of ${(this.expiresAt - this.createdAt) / 1000} s`,
      });
    }
    if (open && now >= open.deadline) {
      return this.finish("expired", {
        error: `No answer to the ${open.view.kind} prompt within ${open.timeoutS} s`,
      });
    }
    if (open?.imageDirty) return this.#flushImage(open);
    return undefined;
  }

  // ------------------------------------------------------------------ what the flow calls

  #assertActive(): void {
    if (this.final) throw new SessionEndedError(`The session has ended (${this.#status})`);
  }

  async #progress(percentage: number, key?: string, value?: unknown): Promise<void> {
    this.#assertActive();
    const { data, item } = progressData(percentage, key, value);
    if (item) this.#data = { ...this.#data, [item.key]: item.value };
    await this.#append([{ type: "progress", data }], { progress: data.percentage, data: this.#data });
  }

  async #openPrompt(spec: PromptSpec): Promise<PromptHandle> {
    this.#assertActive();
    checkPromptSpec(spec);
    if (this.#prompt) await this.#closePrompt(this.#prompt, "superseded");
    this.#assertActive();
    const now = this.#env.clock.now();
    const timeoutS = spec.timeoutS ?? this.#promptTimeoutS;
    const view = promptView(`p_${randomToken(12)}`, spec, now, timeoutS);
    const { promise: answer, resolve, reject } = Promise.withResolvers<Answer>();
    answer.catch(() => {}); // a flow may never await the answer (a QR prompt it closes itself)
    const open: OpenPrompt = {
      view,
      deadline: now.getTime() + timeoutS * 1000,
      timeoutS,
      image: spec.image,
      imageDirty: false,
      imagePersistedAt: now.getTime(),
      resolve,
      reject,
    };
    this.#prompt = open;
    if (this.#lease) this.#env.pool.settled(this.#lease); // started: the warm stock may be made again
    const changed = this.#status !== "waiting";
    if (changed) this.transition("waiting");
    const events: NewEvent[] = changed ? [{ type: "status", data: { status: "waiting" } }] : [];
    events.push({ type: "prompt", data: { prompt: view } });
    await this.#append(events, { status: "waiting", prompt: view, promptImage: spec.image ?? null });
    if (spec.image && this.#prompt === open) this.#env.hub.publish(this.id, this.imageEvent()!);
    if (changed) this.#env.emit(this, "session.status", { status: "waiting" });
    this.#env.emit(this, "session.prompt", { prompt: view });
    return { id: view.id, answer, close: () => this.#closePrompt(open, "closed") };
  }

  async #closePrompt(open: OpenPrompt, reason: "closed" | "superseded"): Promise<void> {
    if (this.#prompt !== open) return; // answered, closed or ended already
    this.#prompt = undefined;
    open.reject(new PromptClosedError(`Prompt ${open.view.id} was ${reason}`));
    if (this.final) return;
    this.transition("running");
    await this.#append([
      { type: "prompt_closed", data: { prompt: open.view.id, reason } },
      { type: "status", data: { status: "running" } },
    ], { status: "running", prompt: null, promptImage: null });
    this.#env.emit(this, "session.status", { status: "running" });
  }

  async #showImage(promptId: string, png: Uint8Array): Promise<void> {
    if (!(png instanceof Uint8Array)) throw new TypeError("showImage needs PNG bytes");
    const open = this.#prompt;
    // A frame for a prompt that was just answered or closed is dropped: the race is normal for QR loops.
    if (this.final || !open || open.view.id !== promptId) return;
    open.image = png;
    open.imageDirty = true;
    if (!open.view.has_image) open.view = { ...open.view, has_image: true };
    this.#env.hub.publish(this.id, this.imageEvent()!);
    if (this.#env.clock.now().getTime() - open.imagePersistedAt >= this.#env.imagePersistMs) {
      await this.#flushImage(open);
    }
  }

  /** Writes the latest frame of `open` to the row (so other instances and restarts can serve it). */
  #flushImage(open: OpenPrompt): Promise<void> {
    open.imageDirty = false;
    open.imagePersistedAt = this.#env.clock.now().getTime();
    const image = open.image ?? null;
    const view: PromptView = open.view;
    return this.#serial(() => this.#env.store.writePromptImage(this.id, view, image));
  }

  async #saveArtifact(artifact: NewArtifact): Promise<void> {
    this.#assertActive();
    checkArtifact(artifact);
    const { name, contentType, bytes } = artifact;
    await this.#append(
      [{ type: "artifact", data: { name, content_type: contentType, size: bytes.length } }],
      {},
      artifact,
    );
  }

  // ------------------------------------------------------------------ the write chain

  /** Runs `fn` after this session's earlier writes, so events get their seq in order. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Stores `events` and `patch` (and `artifact`) in one transaction, then tells live followers. */
  #append(events: NewEvent[], patch: SessionPatch, artifact?: NewArtifact): Promise<void> {
    return this.#serial(async () => {
      const stored = await this.#env.store.append(this.id, this.#seq, { events, patch, artifact });
      this.#seq += stored.length;
      for (const event of stored) this.#env.hub.publish(this.id, event);
    });
  }
}
