/**
 * The session service: a small facade over the store (SQL), the queue (admission), live sessions (one
 * per running session, with its state machine) and the follower (replay, then live). Routes and the
 * legacy adapters use only this.
 */
import type { Page } from "puppeteer-core";
import type { Deps } from "../deps.ts";
import { ConflictError, NotFoundError, ServiceUnavailableError } from "../errors.ts";
import { Follower, type FollowOptions } from "./follow.ts";
import type { Flow } from "./flow.ts";
import { EventHub, type SessionEvent, type SessionListener } from "./hub.ts";
import { type LiveEnv, LiveSession } from "./live_session.ts";
import { CommandSeal, type SessionCommand } from "./commands.ts";
import { Placement } from "./placement.ts";
import { claimedInit, reportEnded } from "./claimed.ts";
import type { BrowserPool } from "./pool.ts";
import { BROWSER_CRASHED, parseFlowInput, redactInput } from "./runtime.ts";
import { type SessionFilter, type SessionOutbox, SessionStore } from "./session_store.ts";
import { isFinalStatus, type SessionStatus } from "./status.ts";
import { type ArtifactInfo, type SessionLimits, type SessionRow, type SessionView, toView } from "./view.ts";
import { assertPublicTarget } from "../webhooks/ssrf.ts";
import { assertFairShare, sessionCap } from "./fair_share.ts";
import { secretBoxOf } from "../webhooks/mod.ts";
import { sealUrl } from "../webhooks/url_seal.ts";

export { INTERRUPTED, PromptClosedError, SessionEndedError } from "./status.ts";
export { QUEUE_RETRY_AFTER_S } from "./session_queue.ts";
export { ACTIVE_STATUSES, FINAL_STATUSES, SESSION_STATUSES, type SessionStatus } from "./status.ts";
export { type ArtifactInfo, pngDataUrl, type SessionView } from "./view.ts";

/** What the service needs from the app's dependencies. */
export type AutomationDeps = Pick<Deps, "db" | "clock" | "log" | "events" | "config">;

/** How a session service is put together. */
export interface SessionServiceOptions {
  flows: readonly Flow[];
  pool: BrowserPool;
  /** Writes webhook messages in each session change's transaction (src/webhooks/); none when absent. */
  outbox?: SessionOutbox;
  /** Base URL of the portals flows visit (the built-in demo portal by default). */
  portalUrl: string;
  /** Credentials per flow (FLOW_SECRETS, plus main.ts's demo login when the demo portal is on). */
  secrets?: Readonly<Record<string, Record<string, string>>>;
  hub?: EventHub;
  /** QR frames are kept in memory and written to the session row at most this often. */
  imagePersistMs?: number;
  /** The one default timeout of every page wait in a flow. */
  stepTimeoutMs?: number;
  /** cluster: sends a command to the instance running a session (commands.ts). */
  forward?: (id: string, command: SessionCommand) => Promise<void>;
  /** cluster: this instance's id on the rows it claims (random when absent). */
  instance?: string;
  /** cluster: wakes the queue claimers of every instance (NOTIFY on QUEUE_CHANNEL). */
  announce?: () => void;
  /** cluster: ids of the live instances (Postgres), for the sweep of a stopped instance's sessions. */
  alive?: () => Promise<string[]>;
}

/** Starts, follows, answers and ends automation sessions. */
export class SessionService implements AsyncDisposable {
  readonly #deps: AutomationDeps;
  readonly #flows: ReadonlyMap<string, Flow>;
  readonly #store: SessionStore;
  readonly #hub: EventHub;
  readonly #placement: Placement;
  readonly #seal: CommandSeal;
  readonly #follower: Follower;
  readonly #env: LiveEnv;
  readonly #live = new Map<string, LiveSession>();
  #closed = false;
  readonly #offCrash: () => void;

  constructor(deps: AutomationDeps, options: SessionServiceOptions) {
    const { config, log, clock } = deps;
    this.#deps = deps;
    this.#forward = options.forward;
    this.#flows = new Map(options.flows.map((f) => [f.name, f]));
    this.#store = new SessionStore({ ...deps, outbox: options.outbox });
    this.#hub = options.hub ?? new EventHub((err) => log.error("session follower failed", { error: err }));
    this.#seal = new CommandSeal(config.JWT_SECRET ?? "");
    this.#placement = new Placement({
      store: this.#store,
      log,
      instance: options.instance ?? crypto.randomUUID(),
      maxRunning: config.MAX_SESSIONS,
      maxQueue: config.MAX_QUEUE,
      run: (row) => this.#runClaimed(row),
      ended: (ids, status, error) => this.#endedInDb(ids, status, error),
      announce: options.announce,
      alive: options.alive,
    });
    this.#follower = new Follower({
      store: this.#store,
      hub: this.#hub,
      log,
      isLocal: (id) => this.#live.has(id),
      currentImage: (id) => this.#live.get(id)?.imageEvent(),
    });
    this.#env = {
      store: this.#store,
      hub: this.#hub,
      pool: options.pool,
      clock,
      log,
      promptTimeoutS: config.SESSION_PROMPT_TIMEOUT_S,
      maxLifetimeS: config.SESSION_MAX_S,
      stepTimeoutMs: options.stepTimeoutMs ?? config.FLOW_STEP_TIMEOUT_S * 1000,
      imagePersistMs: options.imagePersistMs ?? 5000,
      portalUrl: options.portalUrl,
      leaseOwner: this,
      secrets: (flow) => (options.secrets ?? config.FLOW_SECRETS)[flow] ?? {},
      emit: (live, type, data) => this.#emit(live, type, data),
      ended: (live) => {
        this.#live.delete(live.id);
        this.#placement.finished(live.id);
      },
    };
    this.#offCrash = options.pool.onCrash((generation) => {
      for (const live of this.#live.values()) {
        if (live.generation === generation) void live.finish("failed", { error: BROWSER_CRASHED });
      }
    });
  }

  /** cluster: forwards a command to the instance running a session; set by createAutomation. */
  #forward?: (id: string, command: SessionCommand) => Promise<void>;

  /** The registered flows. */
  flows(): Flow[] {
    return [...this.#flows.values()];
  }

  /** Sessions running on this instance, and the limits (the queue is service-wide, in the database). */
  load(): { running: number; max: number; maxQueue: number } {
    return this.#placement.slots.load();
  }

  /** The session `id` with its open prompt and image (and its place in the queue); 404 when it does not exist. */
  async get(id: string): Promise<SessionView> {
    const row = await this.#store.row(id);
    const view = toView(row, true, this.#live.get(id)?.openPrompt);
    const place = await this.#store.queue.queuePosition(row);
    return place ? { ...view, queue_position: place } : view;
  }

  /** The browser tab of `id` while this instance runs it (for the live view). */
  page(id: string): Page | undefined {
    return this.#live.get(id)?.page;
  }

  /** Sessions, newest first, filtered by owner, status, flow or ids (one query). */
  async list(filter: SessionFilter = {}): Promise<SessionView[]> {
    return (await this.#store.list(filter)).map((r) => toView(r, false));
  }

  /** Stored events of `id` after `afterSeq`, in order. */
  events(id: string, afterSeq = 0, limit = 1000): Promise<SessionEvent[]> {
    return this.#store.events(id, afterSeq, limit);
  }

  /** The current prompt image (PNG), or null. */
  async image(id: string): Promise<Uint8Array | null> {
    const open = this.#live.get(id)?.openPrompt;
    if (open?.image) return open.image;
    const row = await this.#store.row(id);
    return row.prompt ? row.promptImage : null;
  }

  /** The artifacts saved by `id`'s flow. */
  async artifacts(id: string): Promise<ArtifactInfo[]> {
    await this.#store.row(id);
    return this.#store.artifacts(id);
  }

  /** One artifact's bytes and content type; 404 when it does not exist. */
  artifact(id: string, name: string): Promise<{ bytes: Uint8Array; contentType: string }> {
    return this.#store.artifact(id, name);
  }

  /** Replays `id`'s events after `options.after`, then live ones, and ends after the final status. */
  follow(id: string, options: FollowOptions = {}): AsyncGenerator<SessionEvent> {
    return this.#follower.follow(id, options);
  }

  /** follow() with a callback; returns the function that stops it. */
  subscribe(id: string, afterSeq: number, listener: SessionListener): () => void {
    return this.#follower.subscribe(id, afterSeq, listener);
  }

  /** Waits up to `timeoutMs` for an event after `afterSeq` (or the end) and returns the session then. */
  async waitForEvent(id: string, afterSeq: number, timeoutMs: number, signal?: AbortSignal) {
    await this.#follower.waitForEvent(id, afterSeq, timeoutMs, signal);
    return await this.get(id);
  }

  /**
   * Starts `flowName` for `owner` with `input`: 404 for an unknown flow, 422 (fields `input.…`) for bad
   * input, 429 when MAX_SESSIONS are running and MAX_QUEUE are waiting, or when `owner` already has its fair
   * share (MAX_SESSIONS_PER_USER / MAX_SESSIONS_PER_API_KEY active sessions; with `apiKeyId`, counted for
   * that key alone). The session is queued, then runs; `lifetimeS` and `promptTimeoutS` replace SESSION_MAX_S
   * and SESSION_PROMPT_TIMEOUT_S for it.
   */
  async start(
    owner: string,
    flowName: string,
    input: unknown,
    options: { webhookUrl?: string; apiKeyId?: string } & SessionLimits = {},
  ): Promise<SessionView> {
    const flow = this.#flows.get(flowName);
    if (!flow) throw new NotFoundError(`Unknown flow "${flowName}"`);
    const data = parseFlowInput(flow, input);
    if (options.webhookUrl) {
      await assertPublicTarget(options.webhookUrl, this.#deps.config.WEBHOOK_ALLOW_PRIVATE, "webhook_url");
    }
    if (this.#closed) {
      throw new ServiceUnavailableError("Cannot start session: the server is shutting down", 5);
    }
    const now = this.#deps.clock.now().getTime();
    const id = crypto.randomUUID();
    // placement: a free slot here takes the session at once when nobody older waits; otherwise it waits in
    // the database until an instance with a free slot claims it
    const reserved = this.#placement.reserve();
    let row: SessionRow;
    try {
      row = await this.#store.create(
        {
          id,
          owner,
          apiKeyId: options.apiKeyId ?? null,
          flow: flow.name,
          input: redactInput(data ?? {}, flow.secretInput),
          // credentials in the URL (?token=, user info) are sealed at rest (issue 15, item 11)
          webhookUrl: options.webhookUrl ? sealUrl(secretBoxOf(this.#deps.config), options.webhookUrl) : null,
          createdAt: new Date(now),
          expiresAt: new Date(now + (options.lifetimeS ?? this.#deps.config.SESSION_MAX_S) * 1000),
          promptTimeoutS: options.promptTimeoutS ?? null,
          sealedInput: this.#seal.seal(data ?? null), // secrets included, for whichever instance claims it
        },
        (queued, ownerActive) => {
          // fair share first (its own 429), then the service-wide queue; both counted under the queue's lock
          assertFairShare(owner, sessionCap(this.#deps.config, owner), ownerActive);
          if (reserved && queued === 0) return this.#placement.instance;
          this.#placement.slots.admit(queued);
          return null;
        },
      );
    } catch (err) {
      if (reserved) this.#placement.unreserve();
      throw err;
    }
    this.#emitFor(id, flow.name, 1, "session.created", { status: "queued", owner });
    this.#deps.log.info("session created", { session_id: id, flow: flow.name });
    if (row.instance) this.#placement.placeHere(row);
    else {
      if (reserved) this.#placement.unreserve();
      this.#placement.queued();
    }
    return await this.get(id);
  }

  /**
   * Answers the open prompt `promptId` of `id`: 409 when that prompt is not the open one (stale or
   * unknown) or the session has ended, 422 when `value` does not fit the prompt. Secret answers are
   * handed to the flow only: neither stored nor logged.
   */
  async answer(id: string, promptId: string, value: unknown): Promise<void> {
    const live = await this.#running(id, "answer", { op: "answer", prompt: promptId, value });
    await live?.answer(promptId, value);
  }

  /** Cancels `id`: its browser context is closed before this returns. Ended sessions are left as they are. */
  async cancel(id: string): Promise<SessionView> {
    const live = this.#live.get(id);
    if (live) await live.finish("cancelled");
    else if (await this.#endQueued(id)) {
      // it was waiting in the queue: ended in the database, no instance had it
    } else if (!isFinalStatus((await this.#store.row(id)).status)) {
      // Not ours: the instance running it cancels it; if none answers (a leftover), end it in the database.
      const forwarded = await this.#forward?.(id, { op: "cancel" }).then(() => true, () => false);
      if (!forwarded) await this.#store.endActive({ status: "cancelled", error: null, ids: [id] });
    }
    return await this.get(id);
  }

  /** Gives `id` `seconds` more to live (its session deadline and its open prompt's deadline). */
  async extend(id: string, seconds: number): Promise<SessionView> {
    const s = Math.max(1, Math.min(Math.floor(seconds), this.#deps.config.SESSION_MAX_S));
    const queued = this.#live.has(id) ? null : await this.#store.queue.extendQueued(id, s); // waiting in the queue
    if (queued) this.#hub.publish(id, queued);
    else await (await this.#running(id, "extend", { op: "extend", seconds: s }))?.extend(s);
    return await this.get(id);
  }

  /** Shutdown, first step: claims nothing more and hands queued sessions claimed here back to the queue. */
  drain(): Promise<void> {
    return this.#placement.close();
  }

  /** placement: claims queued sessions for this instance's free slots (a queue notice arrived). */
  claimQueued(): void {
    this.#placement.claim();
  }

  /** cluster: fails the sessions of instances not in `alive` and hands their queued ones back (startup). */
  sweep(alive: string[]): Promise<number> {
    return this.#placement.sweep(alive);
  }

  /** cluster: true when this instance runs `id` now (commands for it are applied here). */
  runsHere(id: string): boolean {
    return !!this.#live.get(id) && !this.#live.get(id)!.final;
  }

  /**
   * Ends what outlived its time (session deadline, prompt deadline), writes pending QR frames, and
   * closes browser contexts no active session owns. Called by the reaper; safe to call any time.
   */
  async reap(): Promise<void> {
    const now = this.#deps.clock.now().getTime();
    await Promise.all([...this.#live.values()].map((live) => live.reap(now)));
    await this.#placement.tick();
    await this.#env.pool.sweep(this, (id) => !!this.#live.get(id) && !this.#live.get(id)!.final);
  }

  /** Ends every session this instance runs (as failed, interrupted) and stops accepting new ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offCrash();
    await this.#placement.close(); // queued sessions claimed here but not started go back to the queue
    await Promise.all([...this.#live.values()].map((live) => live[Symbol.asyncDispose]()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The live session `id` for a command; 409 (with the stored status) when it ended or runs elsewhere. */
  async #running(id: string, what: string, command: SessionCommand): Promise<LiveSession | undefined> {
    const live = this.#live.get(id);
    if (live && !live.final) return live;
    const row = await this.#store.row(id);
    // cluster: run by another instance: that one applies it (its refusal is thrown here).
    if (!live && row.instance && !isFinalStatus(row.status) && this.#forward) {
      return void await this.#forward(id, command);
    }
    if (row.status === "queued") {
      throw new ConflictError(`Cannot ${what}: session ${id} is still queued`, {
        session_status: row.status,
      });
    }
    if (what === "extend") throw new ConflictError(`Cannot extend: session ${id} is ${row.status}`);
    const where = isFinalStatus(row.status) ? `is already ${row.status}` : "is not run by this instance";
    throw new ConflictError(`Cannot ${what}: session ${id} ${where}`, { session_status: row.status });
  }

  /** placement: runs a row this instance claimed; one it cannot run (unknown flow, unreadable input) fails. */
  #runClaimed(row: SessionRow): void {
    let live: LiveSession;
    try {
      live = new LiveSession(this.#env, claimedInit(row, this.#flows, this.#seal));
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.#placement.slots.remove(row.id);
      void this.#store.endActive({ status: "failed", error, ids: [row.id] })
        .then((ids) => this.#endedInDb(ids, "failed", error))
        .catch((e) => this.#deps.log.error("placement: failing a session failed", { error: e }));
      return;
    }
    this.#live.set(live.id, live);
    void live.run();
  }

  /** Cancels `id` if it waits unclaimed in the queue; true when it did. */
  async #endQueued(id: string): Promise<boolean> {
    const ids = await this.#store.endActive({ status: "cancelled", error: null, ids: [id], unclaimed: true });
    await this.#endedInDb(ids, "cancelled", null);
    return ids.length > 0;
  }

  #endedInDb(ids: string[], status: SessionStatus, error: string | null): Promise<void> {
    const emit = this.#emitFor.bind(this);
    return reportEnded({ store: this.#store, hub: this.#hub }, emit, { ids, status, error });
  }

  /** Emits a domain event (deps.events); webhooks go through the outbox the store writes. */
  #emit(live: LiveSession, type: string, data: Record<string, unknown>): void {
    this.#emitFor(live.id, live.flow.name, live.seq, type, data);
  }

  #emitFor(id: string, flow: string, seq: number, type: string, data: Record<string, unknown>): void {
    this.#deps.events.emit(type, { session_id: id, flow, seq, ...data }, this.#deps.clock.now());
  }
}
