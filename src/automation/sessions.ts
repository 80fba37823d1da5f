/**
 * The session service: starts flows in isolated browser contexts, queues beyond MAX_SESSIONS, relays
 * prompts and answers, persists status and the ordered event log, and ends every session exactly once.
 *
 * The database row and event log are the truth shared between instances; the `#live` map is this
 * process's cache of the sessions it runs (their browser context, open prompt and answer resolver).
 */
import { and, asc, desc, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import type { Page } from "puppeteer-core";
import { automationArtifacts, automationEvents, automationSessions } from "../../db/schema.ts";
import { randomToken } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  TooManyRequestsError,
  ValidationError,
} from "../errors.ts";
import type { Answer, Flow, PromptHandle, PromptSpec } from "./flow.ts";
import { EventHub, type SessionEvent, type SessionListener } from "./hub.ts";
import type { BrowserPool, Lease } from "./pool.ts";
import {
  BROWSER_CRASHED,
  checkAnswer,
  checkPromptSpec,
  createFlowContext,
  describeFailure,
  type PromptView,
  promptView,
} from "./runtime.ts";
import type { WebhookSender } from "./webhooks.ts";

/** Where a session is in its life. */
export type SessionStatus =
  | "queued"
  | "running"
  | "waiting"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "expired";

/** Statuses a session never leaves. */
export const FINAL_STATUSES: readonly SessionStatus[] = ["succeeded", "failed", "cancelled", "expired"];
/** Statuses of a session that still holds (or waits for) a browser context. */
export const ACTIVE_STATUSES: readonly SessionStatus[] = ["queued", "running", "waiting"];
/** Every status, for validating filters. */
export const SESSION_STATUSES = [...ACTIVE_STATUSES, ...FINAL_STATUSES] as const;

/** The error of sessions that were active when the server stopped. */
export const INTERRUPTED = "interrupted: the server restarted while this session was active";

/** Retry-After for a full queue: sessions are usually short, and a client should not hammer. */
export const QUEUE_RETRY_AFTER_S = 10;
/** Largest artifact a flow may save. */
export const MAX_ARTIFACT_BYTES = 20 * 1024 * 1024;
/** Largest progress data value (JSON), so a flow cannot bloat every session read. */
const MAX_PROGRESS_VALUE_CHARS = 64 * 1024;

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
}

/** A saved artifact's metadata. */
export interface ArtifactInfo {
  name: string;
  content_type: string;
  size: number;
  created_at: string;
}

/** Thrown into a flow that touches its session after the session ended (cancelled, expired, failed). */
export class SessionEndedError extends Error {
  override name = "SessionEndedError";
}

/** Rejects the answer of a prompt closed without one. */
export class PromptClosedError extends Error {
  override name = "PromptClosedError";
}

/** What the service needs from the app's dependencies. */
export type AutomationDeps = Pick<Deps, "db" | "clock" | "log" | "events" | "config">;

/** How a session service is put together. */
export interface SessionServiceOptions {
  flows: readonly Flow[];
  pool: BrowserPool;
  webhooks: WebhookSender;
  /** Base URL of the portals flows visit (the built-in demo portal by default). */
  portalUrl: string;
  hub?: EventHub;
  /** QR frames are kept in memory and written to the session row at most this often. */
  imagePersistMs?: number;
  /** Default page timeout for flows. */
  pageTimeoutMs?: number;
}

interface OpenPrompt {
  view: PromptView;
  deadline: number;
  timeoutS: number;
  image?: Uint8Array;
  imageDirty: boolean;
  imagePersistedAt: number;
  resolve(answer: Answer): void;
  reject(err: Error): void;
}

interface Live {
  id: string;
  owner: string;
  flow: Flow;
  input: unknown;
  webhookUrl?: string;
  status: SessionStatus;
  seq: number;
  createdAt: number;
  expiresAt: number;
  data: Record<string, unknown>;
  abort: AbortController;
  lease?: Lease;
  prompt?: OpenPrompt;
  /** Serialises this session's writes so events get their seq in order. */
  chain: Promise<unknown>;
  slot: boolean;
  final: boolean;
  finishing?: Promise<void>;
}

type Row = typeof automationSessions.$inferSelect;
type Tx = Parameters<Parameters<AutomationDeps["db"]["transaction"]>[0]>[0];
interface NewEvent {
  type: string;
  data: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+"-]+)*$/;
const { promptImage: _image, ...summaryColumns } = getTableColumns(automationSessions);

/** The PNG bytes as a data URL, the form clients get images in. */
export function pngDataUrl(png: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < png.length; i += 0x8000) bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(bin)}`;
}

/** Starts, follows, answers and ends automation sessions. */
export class SessionService implements AsyncDisposable {
  readonly #deps: AutomationDeps;
  readonly #flows: ReadonlyMap<string, Flow>;
  readonly #pool: BrowserPool;
  readonly #webhooks: WebhookSender;
  readonly #hub: EventHub;
  readonly #portalUrl: string;
  /** Flows point at the built-in demo portal, whose demo/demo login stands in for missing credentials. */
  readonly #demoPortal: boolean;
  readonly #imagePersistMs: number;
  readonly #pageTimeoutMs: number;
  readonly #live = new Map<string, Live>();
  readonly #running = new Set<string>();
  #queue: Live[] = [];
  #reserved = 0;
  #closed = false;
  readonly #offCrash: () => void;

  constructor(deps: AutomationDeps, options: SessionServiceOptions) {
    this.#deps = deps;
    this.#flows = new Map(options.flows.map((f) => [f.name, f]));
    this.#pool = options.pool;
    this.#webhooks = options.webhooks;
    this.#hub = options.hub ??
      new EventHub((err) => deps.log.error("session follower failed", { error: err }));
    this.#portalUrl = options.portalUrl;
    this.#demoPortal = deps.config.DEMO_PORTAL && !deps.config.PORTAL_BASE_URL;
    this.#imagePersistMs = options.imagePersistMs ?? 5000;
    this.#pageTimeoutMs = options.pageTimeoutMs ?? 30_000;
    this.#offCrash = this.#pool.onCrash((generation) => {
      for (const live of this.#live.values()) {
        if (live.lease?.generation === generation) {
          void this.#finish(live, "failed", { error: BROWSER_CRASHED });
        }
      }
    });
  }

  // ------------------------------------------------------------------ queries

  /** The registered flows. */
  flows(): Flow[] {
    return [...this.#flows.values()];
  }

  /** Sessions running now / waiting for a slot (this instance). */
  load(): { running: number; queued: number; max: number; maxQueue: number } {
    const { MAX_SESSIONS, MAX_QUEUE } = this.#deps.config;
    return {
      running: this.#running.size,
      queued: this.#queue.length,
      max: MAX_SESSIONS,
      maxQueue: MAX_QUEUE,
    };
  }

  /** The session `id` with its open prompt and image; 404 when it does not exist. */
  async get(id: string): Promise<SessionView> {
    return this.#view(await this.#row(id), true);
  }

  /** Sessions, newest first, optionally only `owner`'s, only of `flow` and only with `status`. */
  async list(
    filter: { owner?: string; flow?: string; status?: SessionStatus[]; limit?: number } = {},
  ): Promise<SessionView[]> {
    const where = and(
      filter.owner ? eq(automationSessions.owner, filter.owner) : undefined,
      filter.flow ? eq(automationSessions.flow, filter.flow) : undefined,
      filter.status?.length ? inArray(automationSessions.status, filter.status) : undefined,
    );
    const rows = await this.#deps.db.select(summaryColumns).from(automationSessions).where(where)
      .orderBy(desc(automationSessions.createdAt), desc(automationSessions.id)).limit(filter.limit ?? 50);
    return rows.map((r) => this.#view({ ...r, promptImage: null }, false));
  }

  /** Stored events of `id` after `afterSeq`, in order. */
  async events(id: string, afterSeq = 0, limit = 1000): Promise<SessionEvent[]> {
    if (!UUID.test(id)) throw new NotFoundError(`No session ${id}`);
    const rows = await this.#deps.db.select().from(automationEvents)
      .where(and(eq(automationEvents.sessionId, id), gt(automationEvents.seq, afterSeq)))
      .orderBy(asc(automationEvents.seq)).limit(limit);
    return rows.map((r) => ({
      seq: r.seq,
      type: r.type,
      data: r.data as Record<string, unknown>,
      at: r.at.toISOString(),
    }));
  }

  /** The current prompt image (PNG), or null. */
  async image(id: string): Promise<Uint8Array | null> {
    const live = this.#live.get(id);
    if (live?.prompt?.image) return live.prompt.image;
    const row = await this.#row(id);
    return row.prompt ? row.promptImage : null;
  }

  /** The artifacts saved by `id`'s flow. */
  async artifacts(id: string): Promise<ArtifactInfo[]> {
    await this.#row(id);
    const rows = await this.#deps.db.select({
      name: automationArtifacts.name,
      contentType: automationArtifacts.contentType,
      size: automationArtifacts.size,
      createdAt: automationArtifacts.createdAt,
    }).from(automationArtifacts).where(eq(automationArtifacts.sessionId, id))
      .orderBy(asc(automationArtifacts.createdAt), asc(automationArtifacts.name));
    return rows.map((r) => ({
      name: r.name,
      content_type: r.contentType,
      size: r.size,
      created_at: r.createdAt.toISOString(),
    }));
  }

  /** One artifact's bytes and content type; 404 when it does not exist. */
  async artifact(id: string, name: string): Promise<{ bytes: Uint8Array; contentType: string }> {
    if (!UUID.test(id) || !ARTIFACT_NAME.test(name)) throw new NotFoundError(`No artifact ${name}`);
    const [row] = await this.#deps.db.select().from(automationArtifacts)
      .where(and(eq(automationArtifacts.sessionId, id), eq(automationArtifacts.name, name))).limit(1);
    if (!row) throw new NotFoundError(`No artifact ${name} in session ${id}`);
    return { bytes: row.bytes, contentType: row.contentType };
  }

  // ------------------------------------------------------------------ following

  /**
   * Follows `id`: replays stored events after `afterSeq`, then delivers live ones, in order and without
   * gaps or repeats; when a prompt with an image is open, its current image follows the replay. Returns
   * the unsubscribe function. A session run by another instance is only replayed (live following across
   * instances comes with LISTEN/NOTIFY).
   */
  subscribe(id: string, afterSeq: number, listener: SessionListener): () => void {
    let last = afterSeq;
    let replaying = true;
    let closed = false;
    const buffered: SessionEvent[] = [];
    const deliver = (event: SessionEvent) => {
      if (closed) return;
      if (!event.ephemeral) {
        if (event.seq <= last) return;
        last = event.seq;
      }
      try {
        listener(event);
      } catch (err) {
        this.#deps.log.error("session follower failed", { session_id: id, error: err });
      }
    };
    const off = this.#hub.subscribe(id, (event) => replaying ? buffered.push(event) : deliver(event));
    void (async () => {
      let after = afterSeq;
      for (;;) {
        const page = await this.events(id, after);
        for (const event of page) deliver(event);
        if (page.length < 1000) break;
        after = page[page.length - 1].seq;
      }
      replaying = false;
      for (const event of buffered.splice(0)) deliver(event);
      const open = this.#live.get(id)?.prompt;
      if (open?.image) deliver(this.#imageEvent(this.#live.get(id)!, open));
    })().catch((err) => {
      replaying = false;
      this.#deps.log.error("session replay failed", { session_id: id, error: err });
    });
    return () => {
      closed = true;
      off();
    };
  }

  /**
   * Waits up to `timeoutMs` for an event after `afterSeq` (returns at once when there is one, or the
   * session has ended) and returns the session then. For long-polling clients.
   */
  async waitForEvent(
    id: string,
    afterSeq: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<SessionView> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const off = this.#hub.subscribe(id, (event) => {
      if (!event.ephemeral && event.seq > afterSeq) wake();
    });
    const timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
    signal?.addEventListener("abort", wake, { once: true });
    let poll: ReturnType<typeof setInterval> | undefined;
    try {
      const view = await this.get(id);
      if (view.seq > afterSeq || FINAL_STATUSES.includes(view.status) || timeoutMs <= 0) return view;
      if (!this.#live.has(id)) {
        // Run by another instance: its events reach us only through the database for now.
        poll = setInterval(() => {
          this.#row(id).then((r) => r.seq > afterSeq && wake(), () => wake());
        }, 1000);
      }
      await woken;
      return await this.get(id);
    } finally {
      off();
      clearTimeout(timer);
      clearInterval(poll);
      signal?.removeEventListener("abort", wake);
    }
  }

  // ------------------------------------------------------------------ commands

  /** FLOW_SECRETS of a flow; with none configured and the built-in demo portal, its demo/demo login. */
  #secretsFor(flow: string): Record<string, string> {
    const configured = this.#deps.config.FLOW_SECRETS[flow];
    if (configured) return configured;
    return this.#demoPortal ? { username: "demo", password: "demo" } : {};
  }

  /**
   * Starts `flowName` for `owner` with `input`: 404 for an unknown flow, 422 (fields `input.…`) for bad
   * input, 429 when MAX_SESSIONS are running and MAX_QUEUE are waiting. The session is queued, then runs.
   */
  async start(
    owner: string,
    flowName: string,
    input: unknown,
    options: { webhookUrl?: string } = {},
  ): Promise<SessionView> {
    const flow = this.#flows.get(flowName);
    if (!flow) throw new NotFoundError(`Unknown flow "${flowName}"`);
    const parsed = flow.input.safeParse(input ?? {});
    if (!parsed.success) {
      throw new ValidationError(
        parsed.error.issues.map((i) => ({
          field: ["input", ...i.path.map(String)].join("."),
          message: i.message,
        })),
        `The input does not fit the flow ${flow.name}`,
      );
    }
    if (this.#closed) {
      throw new ServiceUnavailableError("Cannot start session: the server is shutting down", 5);
    }
    const { MAX_SESSIONS, MAX_QUEUE, SESSION_MAX_S } = this.#deps.config;
    if (this.#running.size + this.#queue.length + this.#reserved >= MAX_SESSIONS + MAX_QUEUE) {
      throw new TooManyRequestsError(
        `Cannot start session: the browser pool is full (${this.#running.size} of ${MAX_SESSIONS} running, ` +
          `${this.#queue.length + this.#reserved} of ${MAX_QUEUE} queued)`,
        QUEUE_RETRY_AFTER_S,
      );
    }
    this.#reserved++;
    const now = this.#deps.clock.now();
    const live: Live = {
      id: crypto.randomUUID(),
      owner,
      flow,
      input: parsed.data,
      webhookUrl: options.webhookUrl,
      status: "queued",
      seq: 1,
      createdAt: now.getTime(),
      expiresAt: now.getTime() + SESSION_MAX_S * 1000,
      data: {},
      abort: new AbortController(),
      chain: Promise.resolve(),
      slot: false,
      final: false,
    };
    try {
      await this.#deps.db.transaction(async (tx) => {
        await tx.insert(automationSessions).values({
          id: live.id,
          owner,
          flow: flow.name,
          status: "queued",
          input: redactInput(parsed.data ?? {}, flow.secretInput),
          webhookUrl: options.webhookUrl ?? null,
          seq: 1,
          createdAt: now,
          updatedAt: now,
          expiresAt: new Date(live.expiresAt),
        });
        await tx.insert(automationEvents).values({
          sessionId: live.id,
          seq: 1,
          type: "status",
          data: { status: "queued" },
          at: now,
        });
      });
    } finally {
      this.#reserved--;
    }
    this.#live.set(live.id, live);
    this.#domain(live, "session.created", { status: "queued", owner });
    this.#deps.log.info("session created", { session_id: live.id, flow: flow.name });
    this.#queue.push(live);
    this.#pump();
    return await this.get(live.id);
  }

  /**
   * Answers the open prompt `promptId` of `id`: 409 when that prompt is not the open one (stale or
   * unknown) or the session has ended, 422 when `value` does not fit the prompt. Secret answers are
   * handed to the flow only: neither stored nor logged.
   */
  async answer(id: string, promptId: string, value: unknown): Promise<void> {
    const live = this.#live.get(id);
    if (!live || live.final) {
      const row = await this.#row(id);
      throw new ConflictError(
        FINAL_STATUSES.includes(row.status as SessionStatus)
          ? `Cannot answer: session ${id} is already ${row.status}`
          : `Cannot answer: session ${id} is not run by this instance`,
        { session_status: row.status },
      );
    }
    const open = live.prompt;
    if (!open || open.view.id !== promptId) {
      throw new ConflictError(
        open
          ? `Prompt ${promptId} is not open; the open prompt is ${open.view.id}`
          : `Prompt ${promptId} is not open; the session has no open prompt`,
        { open_prompt: open?.view.id ?? null },
      );
    }
    const answer = checkAnswer(open.view, value);
    live.prompt = undefined;
    live.status = "running";
    const written = this.#append(live, [
      { type: "answer", data: open.view.secret ? { prompt: promptId } : { prompt: promptId, value: answer } },
      { type: "status", data: { status: "running" } },
    ], { status: "running", prompt: null, promptImage: null });
    open.resolve(answer);
    await written;
    this.#domain(live, "session.status", { status: "running" });
  }

  /** Cancels `id`: its browser context is closed before this returns. Ended sessions are left as they are. */
  async cancel(id: string): Promise<SessionView> {
    const live = this.#live.get(id);
    if (live) {
      await this.#finish(live, "cancelled", {});
    } else {
      const row = await this.#row(id);
      if (ACTIVE_STATUSES.includes(row.status as SessionStatus)) {
        // Not ours (another instance, or a leftover): end it in the database.
        await endSessionsInDb(this.#deps, { status: "cancelled", error: null, ids: [id] });
      }
    }
    return await this.get(id);
  }

  /** Gives `id` `seconds` more to live (its session deadline and its open prompt's deadline). */
  async extend(id: string, seconds: number): Promise<SessionView> {
    const live = this.#live.get(id);
    if (!live || live.final) {
      const row = await this.#row(id);
      throw new ConflictError(`Cannot extend: session ${id} is ${row.status}`);
    }
    const s = Math.max(1, Math.min(Math.floor(seconds), this.#deps.config.SESSION_MAX_S));
    live.expiresAt += s * 1000;
    const open = live.prompt;
    if (open) {
      open.deadline += s * 1000;
      open.view = { ...open.view, expires_at: new Date(open.deadline).toISOString() };
    }
    await this.#append(live, [{
      type: "extended",
      data: {
        expires_at: new Date(live.expiresAt).toISOString(),
        ...(open ? { prompt_expires_at: open.view.expires_at } : {}),
      },
    }], { expiresAt: new Date(live.expiresAt), ...(open ? { prompt: open.view } : {}) });
    return await this.get(id);
  }

  /**
   * Ends what outlived its time (session deadline, prompt deadline), writes pending QR frames, and
   * closes browser contexts no active session owns. Called by the reaper; safe to call any time.
   */
  async reap(): Promise<void> {
    const now = this.#deps.clock.now().getTime();
    const ending: Promise<void>[] = [];
    for (const live of [...this.#live.values()]) {
      if (live.final) continue;
      if (now >= live.expiresAt) {
        ending.push(this.#finish(live, "expired", {
          error: `The session reached its maximum lifetime of ${this.#deps.config.SESSION_MAX_S} s`,
        }));
      } else if (live.prompt && now >= live.prompt.deadline) {
        ending.push(this.#finish(live, "expired", {
          error: `No answer to the ${live.prompt.view.kind} prompt within ${live.prompt.timeoutS} s`,
        }));
      } else if (live.prompt?.imageDirty) {
        ending.push(this.#flushImage(live, live.prompt));
      }
    }
    await Promise.all(ending);
    await this.#pool.sweep(this, (id) => {
      const live = this.#live.get(id);
      return !!live && !live.final;
    });
  }

  /** Ends every session this instance runs (as failed, interrupted) and stops accepting new ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offCrash();
    await Promise.all([...this.#live.values()].map((l) => this.#finish(l, "failed", { error: INTERRUPTED })));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ------------------------------------------------------------------ running

  #pump(): void {
    const max = this.#deps.config.MAX_SESSIONS;
    while (!this.#closed && this.#running.size < max && this.#queue.length) {
      const live = this.#queue.shift()!;
      if (live.final) continue;
      live.slot = true;
      this.#running.add(live.id);
      void this.#run(live);
    }
  }

  async #run(live: Live): Promise<void> {
    let page: Page;
    try {
      live.status = "running";
      await this.#append(live, [{ type: "status", data: { status: "running" } }], {
        status: "running",
        startedAt: this.#deps.clock.now(),
      });
      this.#domain(live, "session.status", { status: "running" });
      const lease = await this.#pool.newContext(live.id, this);
      if (live.final) {
        await this.#pool.closeContext(lease);
        return;
      }
      live.lease = lease;
      page = await lease.context.newPage();
      page.setDefaultTimeout(this.#pageTimeoutMs);
    } catch (err) {
      if (live.final) return;
      const message = err instanceof Error && err.name === "BrowserUnavailableError"
        ? err.message
        : `Cannot start session: opening a browser context failed (${(err as Error).message})`;
      this.#deps.log.error("session could not start", { session_id: live.id, error: err });
      await this.#finish(live, "failed", { error: message });
      return;
    }
    const generation = live.lease.generation;
    const ctx = createFlowContext({
      page,
      input: live.input,
      signal: live.abort.signal,
      secrets: this.#secretsFor(live.flow.name),
      portalUrl: this.#portalUrl,
    }, {
      progress: (percentage, key, value) => this.#progress(live, percentage, key, value),
      prompt: (spec) => this.#openPrompt(live, spec),
      showImage: (promptId, png) => this.#showImage(live, promptId, png),
      artifact: (name, bytes, contentType) => this.#saveArtifact(live, name, bytes, contentType),
    });
    try {
      const result = await live.flow.run(ctx);
      if (live.final) return;
      await this.#finish(live, "succeeded", { result: toJson(result) });
    } catch (err) {
      if (live.final) return;
      const failure = describeFailure(err, live.flow.name, this.#pool.isAlive(generation));
      if (!failure.expected) {
        this.#deps.log.error("flow failed unexpectedly", {
          session_id: live.id,
          flow: live.flow.name,
          error: err,
        });
      }
      await this.#finish(live, "failed", { error: failure.message, step: failure.step });
    }
  }

  /** Ends `live` once, whatever path gets here first: aborts the flow, closes its context, stores the end. */
  #finish(
    live: Live,
    status: SessionStatus,
    outcome: { result?: unknown; error?: string | null; step?: string },
  ): Promise<void> {
    if (live.finishing) return live.finishing;
    live.final = true;
    live.finishing = (async () => {
      const reason = new SessionEndedError(outcome.error ?? `The session was ${status}`);
      live.abort.abort(reason);
      const open = live.prompt;
      live.prompt = undefined;
      open?.reject(reason);
      this.#queue = this.#queue.filter((q) => q !== live);
      if (live.lease) await this.#pool.closeContext(live.lease);
      if (live.slot) {
        live.slot = false;
        this.#running.delete(live.id);
      }
      live.status = status;
      const events: NewEvent[] = [];
      if (status === "succeeded") events.push({ type: "result", data: { result: outcome.result ?? null } });
      if (outcome.error) {
        events.push({
          type: "error",
          data: { message: outcome.error, ...(outcome.step ? { step: outcome.step } : {}) },
        });
      }
      events.push({ type: "status", data: { status, ...(outcome.error ? { error: outcome.error } : {}) } });
      try {
        await this.#append(live, events, {
          status,
          result: status === "succeeded" ? (outcome.result ?? null) : null,
          error: outcome.error ?? null,
          errorStep: outcome.step ?? null,
          prompt: null,
          promptImage: null,
          finishedAt: this.#deps.clock.now(),
        });
      } catch (err) {
        this.#deps.log.error("storing the end of a session failed", { session_id: live.id, error: err });
      }
      this.#live.delete(live.id);
      this.#domain(live, "session.status", { status, ...(outcome.error ? { error: outcome.error } : {}) });
      this.#domain(live, "session.finished", {
        status,
        result: status === "succeeded" ? (outcome.result ?? null) : null,
        error: outcome.error ?? null,
        ...(outcome.step ? { error_step: outcome.step } : {}),
      });
      this.#deps.log.info("session finished", {
        session_id: live.id,
        flow: live.flow.name,
        status,
        duration_ms: this.#deps.clock.now().getTime() - live.createdAt,
      });
      this.#pump();
    })();
    return live.finishing;
  }

  #assertActive(live: Live): void {
    if (live.final) throw new SessionEndedError(`The session has ended (${live.status})`);
  }

  async #progress(live: Live, percentage: number, key?: string, value?: unknown): Promise<void> {
    this.#assertActive(live);
    if (!Number.isFinite(percentage)) throw new TypeError("progress percentage must be a number");
    const pct = Math.round(Math.min(100, Math.max(0, percentage)));
    let data: Record<string, unknown> = { percentage: pct };
    if (key !== undefined) {
      if (typeof key !== "string" || !key || key.length > 100) {
        throw new TypeError("progress key must be 1–100 characters");
      }
      const v = toJson(value ?? null);
      if (JSON.stringify(v).length > MAX_PROGRESS_VALUE_CHARS) {
        throw new TypeError(`progress value ${key} is too large`);
      }
      live.data = { ...live.data, [key]: v };
      data = { percentage: pct, key, value: v };
    }
    await this.#append(live, [{ type: "progress", data }], { progress: pct, data: live.data });
  }

  async #openPrompt(live: Live, spec: PromptSpec): Promise<PromptHandle> {
    this.#assertActive(live);
    checkPromptSpec(spec);
    if (live.prompt) await this.#closePrompt(live, live.prompt, "superseded");
    this.#assertActive(live);
    const now = this.#deps.clock.now();
    const timeoutS = spec.timeoutS ?? this.#deps.config.SESSION_PROMPT_TIMEOUT_S;
    const view = promptView(`p_${randomToken(12)}`, spec, now, timeoutS);
    let resolve!: (a: Answer) => void;
    let reject!: (e: Error) => void;
    const answer = new Promise<Answer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
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
    live.prompt = open;
    const events: NewEvent[] = [];
    const changed = live.status !== "waiting";
    if (changed) events.push({ type: "status", data: { status: "waiting" } });
    events.push({ type: "prompt", data: { prompt: view } });
    live.status = "waiting";
    await this.#append(live, events, { status: "waiting", prompt: view, promptImage: spec.image ?? null });
    if (spec.image && live.prompt === open) this.#hub.publish(live.id, this.#imageEvent(live, open));
    if (changed) this.#domain(live, "session.status", { status: "waiting" });
    this.#domain(live, "session.prompt", { prompt: view });
    return {
      id: view.id,
      answer,
      close: () => this.#closePrompt(live, open, "closed"),
    };
  }

  async #closePrompt(live: Live, open: OpenPrompt, reason: "closed" | "superseded"): Promise<void> {
    if (live.prompt !== open) return; // answered, closed or ended already
    live.prompt = undefined;
    open.reject(new PromptClosedError(`Prompt ${open.view.id} was ${reason}`));
    if (live.final) return;
    live.status = "running";
    await this.#append(live, [
      { type: "prompt_closed", data: { prompt: open.view.id, reason } },
      { type: "status", data: { status: "running" } },
    ], { status: "running", prompt: null, promptImage: null });
    this.#domain(live, "session.status", { status: "running" });
  }

  async #showImage(live: Live, promptId: string, png: Uint8Array): Promise<void> {
    if (!(png instanceof Uint8Array)) throw new TypeError("showImage needs PNG bytes");
    const open = live.prompt;
    // A frame for a prompt that was just answered or closed is dropped: the race is normal for QR loops.
    if (live.final || !open || open.view.id !== promptId) return;
    open.image = png;
    open.imageDirty = true;
    if (!open.view.has_image) open.view = { ...open.view, has_image: true };
    this.#hub.publish(live.id, this.#imageEvent(live, open));
    if (this.#deps.clock.now().getTime() - open.imagePersistedAt >= this.#imagePersistMs) {
      await this.#flushImage(live, open);
    }
  }

  /** Writes the latest frame of `open` to the session row (so other instances and restarts can serve it). */
  #flushImage(live: Live, open: OpenPrompt): Promise<void> {
    open.imageDirty = false;
    open.imagePersistedAt = this.#deps.clock.now().getTime();
    const image = open.image ?? null;
    const view = open.view;
    return this.#serial(live, async () => {
      await this.#deps.db.update(automationSessions).set({ promptImage: image, prompt: view })
        .where(
          and(eq(automationSessions.id, live.id), sql`${automationSessions.prompt}->>'id' = ${view.id}`),
        );
    });
  }

  async #saveArtifact(live: Live, name: string, bytes: Uint8Array, contentType: string): Promise<void> {
    this.#assertActive(live);
    if (!ARTIFACT_NAME.test(name)) {
      throw new TypeError(
        `Artifact name "${name}" must be 1–100 letters, digits, dots, dashes or underscores`,
      );
    }
    if (!CONTENT_TYPE.test(contentType)) {
      throw new TypeError(`Invalid artifact content type "${contentType}"`);
    }
    if (!(bytes instanceof Uint8Array)) throw new TypeError("An artifact needs bytes");
    if (bytes.length > MAX_ARTIFACT_BYTES) {
      throw new TypeError(`Artifact ${name} is larger than ${MAX_ARTIFACT_BYTES} bytes`);
    }
    const now = this.#deps.clock.now();
    await this.#append(
      live,
      [{ type: "artifact", data: { name, content_type: contentType, size: bytes.length } }],
      {},
      async (tx) => {
        const row = { sessionId: live.id, name, contentType, size: bytes.length, bytes, createdAt: now };
        await tx.insert(automationArtifacts).values(row).onConflictDoUpdate({
          target: [automationArtifacts.sessionId, automationArtifacts.name],
          set: { contentType, size: bytes.length, bytes, createdAt: now },
        });
      },
    );
  }

  // ------------------------------------------------------------------ storage

  /** Runs `fn` after this session's earlier writes. */
  #serial<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    const next = live.chain.then(fn);
    live.chain = next.catch(() => {});
    return next;
  }

  /** Stores `events` (numbered in order) and `patch` in one transaction, then tells live followers. */
  #append(
    live: Live,
    events: NewEvent[],
    patch: Partial<typeof automationSessions.$inferInsert>,
    extra?: (tx: Tx) => Promise<void>,
  ): Promise<void> {
    return this.#serial(live, async () => {
      const now = this.#deps.clock.now();
      const seq0 = live.seq;
      const rows = events.map((e, i) => ({
        sessionId: live.id,
        seq: seq0 + i + 1,
        type: e.type,
        data: e.data,
        at: now,
      }));
      await this.#deps.db.transaction(async (tx) => {
        if (extra) await extra(tx);
        if (rows.length) await tx.insert(automationEvents).values(rows);
        await tx.update(automationSessions).set({ ...patch, seq: seq0 + rows.length, updatedAt: now })
          .where(eq(automationSessions.id, live.id));
      });
      live.seq = seq0 + rows.length;
      for (const r of rows) {
        this.#hub.publish(live.id, { seq: r.seq, type: r.type, data: r.data, at: now.toISOString() });
      }
    });
  }

  #imageEvent(live: Live, open: OpenPrompt): SessionEvent {
    return {
      seq: live.seq,
      type: "image",
      data: { prompt: open.view.id, image: pngDataUrl(open.image!) },
      at: this.#deps.clock.now().toISOString(),
      ephemeral: true,
    };
  }

  /** Emits a domain event (deps.events) and sends it to the session's webhook, if any. */
  #domain(live: Live, type: string, data: Record<string, unknown>): void {
    const payload = { session_id: live.id, flow: live.flow.name, seq: live.seq, ...data };
    this.#deps.events.emit(type, payload, this.#deps.clock.now());
    if (live.webhookUrl) this.#webhooks.send(live.id, live.webhookUrl, type, payload);
  }

  async #row(id: string): Promise<Row> {
    if (!UUID.test(id)) throw new NotFoundError(`No session ${id}`);
    const [row] = await this.#deps.db.select().from(automationSessions).where(eq(automationSessions.id, id))
      .limit(1);
    if (!row) throw new NotFoundError(`No session ${id}`);
    return row;
  }

  #view(row: Row, withImage: boolean): SessionView {
    let prompt = row.prompt as (PromptView & { image?: string }) | null;
    if (prompt && withImage) {
      const open = this.#live.get(row.id)?.prompt;
      const image = open?.view.id === prompt.id ? open.image : row.promptImage;
      if (open?.view.id === prompt.id) prompt = { ...open.view };
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
}

/** A JSON-safe copy of a flow's value (results and progress data are stored as jsonb). */
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) ?? "null");
  } catch (err) {
    throw new TypeError(`The value is not JSON-serialisable: ${(err as Error).message}`);
  }
}

/**
 * Ends active sessions in the database alone (no process runs them): appends an `error` and a final
 * `status` event to each and returns their ids. `ids` unset means every active session.
 */
export async function endSessionsInDb(
  deps: Pick<AutomationDeps, "db" | "clock">,
  options: { status: SessionStatus; error: string | null; ids?: string[] },
): Promise<string[]> {
  const now = deps.clock.now();
  const active = sql.join(ACTIVE_STATUSES.map((s) => sql`${s}`), sql`, `);
  const only = options.ids?.length
    ? sql`and id in (${sql.join(options.ids.map((id) => sql`${id}::uuid`), sql`, `)})`
    : sql``;
  const at = sql`${now.toISOString()}::timestamptz`;
  const statusEvent = JSON.stringify({
    status: options.status,
    ...(options.error ? { error: options.error } : {}),
  });
  const errorEvents = options.error
    ? sql`union all select id, seq - 1, 'error', ${
      JSON.stringify({ message: options.error })
    }::jsonb, ${at} from ended`
    : sql``;
  const result = await deps.db.execute(sql`
    with ended as (
      update automation_sessions
         set status = ${options.status}, error = ${options.error}, prompt = null, prompt_image = null,
             seq = seq + ${options.error ? 2 : 1}, finished_at = ${at}, updated_at = ${at}
       where status in (${active}) ${only}
      returning id, seq
    ), events as (
      insert into automation_events (session_id, seq, type, data, at)
      select id, seq, 'status', ${statusEvent}::jsonb, ${at} from ended
      ${errorEvents}
      returning session_id
    )
    select distinct session_id as id from events`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { id: string }[];
  return rows.map((r) => r.id);
}

/** Marks sessions left active by a previous run of the server as failed (interrupted); main.ts calls it at start. */
export async function markInterrupted(
  deps: Pick<AutomationDeps, "db" | "clock" | "log" | "events">,
): Promise<number> {
  const ids = await endSessionsInDb(deps, { status: "failed", error: INTERRUPTED });
  for (const id of ids) {
    deps.events.emit("session.finished", { session_id: id, status: "failed", error: INTERRUPTED });
  }
  if (ids.length) deps.log.warn("sessions interrupted by a restart marked failed", { count: ids.length });
  return ids.length;
}

/** A copy of `input` with the flow's secret fields replaced, fit for the database. */
export function redactInput(input: unknown, keys: string[] = []): unknown {
  if (!keys.length || typeof input !== "object" || input === null) return input;
  const copy: Record<string, unknown> = { ...input as Record<string, unknown> };
  for (const k of keys) if (copy[k] !== undefined) copy[k] = "[redacted]";
  return copy;
}
