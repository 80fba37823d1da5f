/**
 * The one way to follow a session: replay the stored events after a `seq`, then the live ones, in order,
 * without gaps or repeats, and end after the final status. REST long-poll, SSE, WebSocket and every legacy
 * adapter follow through here. Events of a session this instance runs wake followers at once (the hub);
 * a session run by another instance is read from the database when the relay (relay.ts, LISTEN/NOTIFY) wakes
 * the follower, and every `remotePollMs` as a safety net for a lost channel.
 */
import type { Logger } from "../log.ts";
import type { EventHub, SessionEvent, SessionListener } from "./hub.ts";
import type { SessionStore } from "./session_store.ts";
import { isFinalStatus } from "./status.ts";

/** What a follower reads from. */
export interface FollowSource {
  store: SessionStore;
  hub: EventHub;
  log: Logger;
  /** True when this instance runs `id`, so every event it appends reaches the hub. */
  isLocal(id: string): boolean;
  /** The `image` event of `id`'s open prompt, when this instance holds one with an image. */
  currentImage(id: string): SessionEvent | undefined;
  /** How often a session run elsewhere is re-read (ms). */
  remotePollMs?: number;
}

/** Options of a follow. */
export interface FollowOptions {
  /** Replay stored events after this seq (0: from the start). */
  after?: number;
  /** Stops the follow (the iterator ends). */
  signal?: AbortSignal;
}

/** True for the stored status event that ends a session. */
export function isFinalEvent(event: SessionEvent): boolean {
  return event.type === "status" && isFinalStatus(String(event.data.status));
}

const REPLAY_PAGE = 1000;

/** Follows sessions; see the module comment. */
export class Follower {
  readonly #src: FollowSource;

  constructor(source: FollowSource) {
    this.#src = source;
  }

  /** The events of `id` after `options.after`, then live ones; ends after the final status or on abort. */
  async *follow(id: string, options: FollowOptions = {}): AsyncGenerator<SessionEvent> {
    const { store, hub } = this.#src;
    const inbox = new Inbox<SessionEvent>();
    const off = hub.subscribe(id, (event) => inbox.push(event));
    const stop = () => inbox.close();
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    let last = options.after ?? 0;
    try {
      for (;;) {
        for (;;) {
          const page = await store.events(id, last, REPLAY_PAGE);
          for (const event of page) {
            yield event;
            last = event.seq;
            if (isFinalEvent(event)) return;
          }
          if (page.length < REPLAY_PAGE || inbox.closed) break;
        }
        if (this.#src.isLocal(id)) break;
        // Run elsewhere, or still queued (any instance may claim it, this one too): read the log until the
        // session ends, or until this instance runs it, then replay what was stored meanwhile and go live.
        const remote = yield* this.#pollRemote(id, last, inbox);
        if (remote.ended) return;
        last = remote.last;
      }
      // Live events that came during the replay: the stored ones not replayed yet; stale frames are dropped.
      for (const event of inbox.drain()) {
        if (event.ephemeral || event.seq <= last) continue;
        yield event;
        last = event.seq;
        if (isFinalEvent(event)) return;
      }
      const image = this.#src.currentImage(id);
      if (image) yield image;
      for (;;) {
        const event = await inbox.next();
        if (!event) return;
        if (!event.ephemeral) {
          if (event.seq <= last) continue;
          last = event.seq;
        }
        yield event;
        if (isFinalEvent(event)) return;
      }
    } finally {
      off();
      options.signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * A session run elsewhere (or queued, or already ended): reads its log until the final status (`ended`), the
   * follow is stopped (`ended`), or this instance starts running it (not `ended`; `last` is where it got to).
   */
  async *#pollRemote(
    id: string,
    after: number,
    inbox: Inbox<SessionEvent>,
  ): AsyncGenerator<SessionEvent, { ended: boolean; last: number }> {
    const { store } = this.#src;
    let last = after;
    while (!inbox.closed) {
      if (this.#src.isLocal(id)) return { ended: false, last };
      inbox.drain(); // wake-ups from the relay (or frames): the log is read below
      const page = await store.events(id, last, REPLAY_PAGE);
      for (const event of page) {
        yield event;
        last = event.seq;
        if (isFinalEvent(event)) return { ended: true, last };
      }
      if (page.length) continue;
      const row = await store.row(id);
      if (isFinalStatus(row.status) && row.seq <= last) return { ended: true, last };
      await inbox.wait(this.#src.remotePollMs ?? 1000);
    }
    return { ended: true, last };
  }

  /** Calls `listener` with each followed event; returns the function that stops following. */
  subscribe(id: string, afterSeq: number, listener: SessionListener): () => void {
    const stop = new AbortController();
    void (async () => {
      for await (const event of this.follow(id, { after: afterSeq, signal: stop.signal })) {
        if (stop.signal.aborted) return;
        try {
          listener(event);
        } catch (err) {
          this.#src.log.error("session follower failed", { session_id: id, error: err });
        }
      }
    })().catch((err) => this.#src.log.error("session follow failed", { session_id: id, error: err }));
    return () => stop.abort();
  }

  /** Resolves at the first stored event after `afterSeq`, at the session's end, on timeout or on abort. */
  async waitForEvent(id: string, afterSeq: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (timeoutMs <= 0 || signal?.aborted) return;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), timeoutMs);
    const onAbort = () => stop.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const event of this.follow(id, { after: afterSeq, signal: stop.signal })) {
        if (!event.ephemeral) return;
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** A queue with one waiting reader: pushes wake it; close ends it. */
class Inbox<T> {
  #items: T[] = [];
  #wake?: () => void;
  closed = false;

  push(item: T): void {
    if (this.closed) return;
    this.#items.push(item);
    this.#wake?.();
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  drain(): T[] {
    return this.#items.splice(0);
  }

  /** The next item, or undefined once closed. */
  async next(): Promise<T | undefined> {
    while (!this.#items.length) {
      if (this.closed) return undefined;
      await this.wait();
    }
    return this.#items.shift();
  }

  /** Waits for a push or a close, at most `ms` when given. */
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.#wake = done;
      if (this.closed || this.#items.length) done();
    });
  }
}
