/**
 * Holds a session with Traccar and its `/api/socket` WebSocket, and hands every message to a handler.
 *
 * Traccar authorises the socket only by the session cookie, so each connection starts with a login
 * (`GET /api/session?token=` or the `POST /api/session` form) and opens the socket with
 * `new WebSocket(url, { headers: { cookie } })` (Deno 2). When the socket closes, fails, or stays
 * silent past `idleTimeoutMs` (Traccar sends `{}` every 55 s), it logs in again and reconnects after an
 * exponential, jittered, capped delay; the attempt counter resets once a socket opens.
 *
 * Traccar pushes an event to a socket only through a notification rule of that type with the `web`
 * notificator linked to the logged-in user, so on connect the listener makes sure such a rule exists
 * (`always: true`) for each of `eventTypes` (TRACCAR_EVENT_TYPES).
 */
import type { Deps } from "../deps.ts";
import type { Logger } from "../log.ts";
import { TraccarEventDispatcher, type TraccarMessage } from "./dispatch.ts";
import type { TraccarClient } from "./traccar_client.ts";

/** Options of {@link TraccarListener}. */
export interface TraccarListenerOptions {
  client: TraccarClient;
  /** Called for each message, one at a time, in order. */
  onMessage: (message: TraccarMessage) => Promise<void> | void;
  log: Logger;
  /** Event types Traccar must push to us (ensured as `web` notifications); empty: leave the rules alone. */
  eventTypes?: readonly string[];
  /** The delay before reconnect attempt `n` (0-based), in ms; {@link backoffDelay} by default. */
  backoff?: (attempt: number) => number;
  /** Reconnect when no message (not even a keepalive) arrived for this long; default 150 s. */
  idleTimeoutMs?: number;
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped at `maxMs`. */
export function backoffDelay(
  attempt: number,
  options: { baseMs?: number; maxMs?: number; random?: () => number } = {},
): number {
  const { baseMs = 1000, maxMs = 60_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** The Traccar socket client; start it with {@link TraccarListener.start}, stop it with `close()`. */
export class TraccarListener implements AsyncDisposable {
  readonly #client: TraccarClient;
  readonly #onMessage: TraccarListenerOptions["onMessage"];
  readonly #log: Logger;
  readonly #eventTypes: readonly string[];
  readonly #backoff: (attempt: number) => number;
  readonly #idleTimeoutMs: number;
  readonly #stop = new AbortController();
  #loop?: Promise<void>;
  #socket?: WebSocket;
  #queue: Promise<void> = Promise.resolve();
  #rulesEnsured = false;
  #connected = false;
  #connections = 0;

  constructor(options: TraccarListenerOptions) {
    this.#client = options.client;
    this.#onMessage = options.onMessage;
    this.#log = options.log;
    this.#eventTypes = options.eventTypes ?? [];
    this.#backoff = options.backoff ?? ((attempt) => backoffDelay(attempt));
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 150_000;
  }

  /** True while a socket is open. */
  get connected(): boolean {
    return this.#connected;
  }

  /** How many sockets have opened so far (reconnects included). */
  get connections(): number {
    return this.#connections;
  }

  /** Starts connecting; returns immediately. */
  start(): this {
    this.#loop ??= this.#run();
    return this;
  }

  /** Closes the socket, stops reconnecting, and waits for the message being handled. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#socket?.close(1000, "gatehouse is stopping");
    await this.#loop;
    await this.#queue;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      let opened = false;
      try {
        const session = await this.#client.openSession();
        if (this.#stop.signal.aborted) break;
        await this.#ensureRules();
        if (this.#stop.signal.aborted) break;
        opened = await this.#connect(session.cookie);
      } catch (err) {
        this.#log.warn("Traccar listener cannot connect", { error: err, attempt });
      }
      if (this.#stop.signal.aborted) break;
      if (opened) attempt = 0;
      const delay = this.#backoff(attempt++);
      this.#log.info("Traccar listener reconnecting", { delay_ms: delay, attempt });
      await sleep(delay, this.#stop.signal);
    }
  }

  async #ensureRules(): Promise<void> {
    if (this.#rulesEnsured || this.#eventTypes.length === 0) return;
    try {
      const rules = await this.#client.notifications();
      const covered = new Set(
        rules.filter((r) => r.always && r.notificators.split(",").map((s) => s.trim()).includes("web"))
          .map((r) => r.type),
      );
      for (const type of this.#eventTypes) {
        if (!covered.has(type)) {
          await this.#client.createNotification({ type, always: true, notificators: "web" });
        }
      }
      this.#rulesEnsured = true;
    } catch (err) {
      // Not fatal: rules made by hand in Traccar may already deliver what we need.
      this.#log.warn("cannot ensure Traccar notification rules", { error: err });
    }
  }

  /** Opens one socket and resolves when it is gone; the result says whether it ever opened. */
  #connect(cookie: string): Promise<boolean> {
    return new Promise((resolve) => {
      let opened = false;
      let done = false;
      let idle: ReturnType<typeof setTimeout> | undefined;
      const socket = new WebSocket(this.#client.socketUrl, { headers: { cookie } });
      this.#socket = socket;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        this.#connected = false;
        if (this.#socket === socket) this.#socket = undefined;
        resolve(opened);
      };
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          this.#log.warn("Traccar socket is silent; reconnecting", { idle_ms: this.#idleTimeoutMs });
          socket.close();
          finish();
        }, this.#idleTimeoutMs);
      };
      socket.onopen = () => {
        opened = true;
        this.#connected = true;
        this.#connections++;
        this.#log.info("Traccar socket connected", { connections: this.#connections });
        armIdle();
      };
      socket.onmessage = (event) => {
        armIdle();
        let message: unknown;
        try {
          message = JSON.parse(String(event.data));
        } catch {
          this.#log.warn("Traccar sent a socket message that is not JSON");
          return;
        }
        if (typeof message !== "object" || message === null || Array.isArray(message)) return;
        this.#queue = this.#queue
          .then(() => this.#onMessage(message as TraccarMessage))
          .catch((err) => this.#log.error("Traccar message handler failed", { error: err }));
      };
      socket.onerror = () => {}; // a close event always follows
      socket.onclose = (event) => {
        if (opened && !this.#stop.signal.aborted) {
          this.#log.warn("Traccar socket closed", { code: event.code });
        }
        finish();
      };
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The listener main.ts starts when TRACCAR_URL is set: events go to a {@link TraccarEventDispatcher}.
 * Returns null without Traccar.
 */
export function startTraccarListener(
  deps: Deps,
  options: Partial<Pick<TraccarListenerOptions, "backoff" | "idleTimeoutMs">> = {},
): TraccarListener | null {
  if (!deps.traccar) return null;
  const dispatcher = new TraccarEventDispatcher(deps);
  return new TraccarListener({
    client: deps.traccar,
    onMessage: (message) => dispatcher.handleMessage(message),
    log: deps.log,
    eventTypes: deps.config.TRACCAR_EVENT_TYPES,
    ...options,
  }).start();
}
