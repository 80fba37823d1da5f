/** The in-process fan-out of session events to live followers (sockets, SSE, long-polls). */
import { addToKeyedSet } from "../keyed_sets.ts";

/** One event of a session, as stored in automation_events (or an ephemeral image frame). */
export interface SessionEvent {
  /** The event's sequence number; an ephemeral event carries the seq of the latest stored event. */
  seq: number;
  type: string;
  data: Record<string, unknown>;
  /** ISO timestamp. */
  at: string;
  /** True for events that are not in the stored log (QR image frames): followers get them only live. */
  ephemeral?: boolean;
}

/** A follower of one session. */
export type SessionListener = (event: SessionEvent) => void;

/**
 * Per-session listener sets. Process memory only: a follower on another instance will be fed through
 * Postgres LISTEN/NOTIFY later (the publish call is the one place to hang that on).
 */
export class EventHub {
  readonly #subs = new Map<string, Set<SessionListener>>();
  readonly #onError: (err: unknown) => void;
  readonly #taps = new Set<(sessionId: string, event: SessionEvent) => void>();

  constructor(onError: (err: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  /** Follows `sessionId`; returns the unsubscribe function. */
  subscribe(sessionId: string, listener: SessionListener): () => void {
    return addToKeyedSet(this.#subs, sessionId, listener);
  }

  /** Delivers `event` to the followers of `sessionId`; a failing follower never breaks the others. */
  publish(sessionId: string, event: SessionEvent): void {
    for (const tap of this.#taps) {
      try {
        tap(sessionId, event);
      } catch (err) {
        this.#onError(err);
      }
    }
    const set = this.#subs.get(sessionId);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** cluster: sees every published event (the relay to other instances); returns the function that stops it. */
  tap(fn: (sessionId: string, event: SessionEvent) => void): () => void {
    this.#taps.add(fn);
    return () => this.#taps.delete(fn);
  }

  /** How many followers `sessionId` has (for tests and metrics). */
  followers(sessionId: string): number {
    return this.#subs.get(sessionId)?.size ?? 0;
  }
}
