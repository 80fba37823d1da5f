/**
 * Placement. The queue is global: a queued session waits as a row in the database, and any instance with a
 * free browser slot claims it (session_store.ts, `FOR UPDATE SKIP LOCKED`). This module counts the slots of
 * one instance (MAX_SESSIONS) and words the 429 of a full queue (MAX_QUEUE, counted in the database).
 */
import { TooManyRequestsError } from "../errors.ts";

/** Retry-After for a full queue: sessions are usually short, and a client should not hammer. */
export const QUEUE_RETRY_AFTER_S = 10;

/** cluster: the NOTIFY channel that wakes claimers when a session is queued (or handed back). */
export const QUEUE_CHANNEL = "gatehouse_queue";

/** Key of the transaction advisory lock that serialises admissions, so MAX_QUEUE holds service-wide. */
export const QUEUE_LOCK_KEY = 0x6761_7465; // "gate"

/** The browser slots of this instance: running sessions plus slots held by a claim in flight. */
export class BrowserSlots {
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #running = new Set<string>();
  #held = 0;

  constructor(limits: { maxRunning: number; maxQueue: number }) {
    this.#max = limits.maxRunning;
    this.#maxQueue = limits.maxQueue;
  }

  /** Sessions running here, and the limits. */
  load(): { running: number; max: number; maxQueue: number } {
    return { running: this.#running.size, max: this.#max, maxQueue: this.#maxQueue };
  }

  /** Slots free now (neither running nor held by a claim). */
  free(): number {
    return Math.max(0, this.#max - this.#running.size - this.#held);
  }

  /** Holds `n` (default: every free) slots for a claim; returns how many. */
  hold(n = this.free()): number {
    this.#held += n;
    return n;
  }

  /** Gives back `n` held slots (after the claim, whose sessions were added with `add`). */
  unhold(n: number): void {
    this.#held -= n;
  }

  /** Counts `id` as running here. */
  add(id: string): void {
    this.#running.add(id);
  }

  /** Frees `id`'s slot. */
  remove(id: string): void {
    this.#running.delete(id);
  }

  /**
   * Admission of one more queued session while `queued` wait service-wide: a 429 when they fill MAX_QUEUE
   * plus the slots not running here (a free slot, or one a claim in flight holds, takes the oldest at once).
   */
  admit(queued: number): void {
    if (queued < this.#maxQueue + Math.max(0, this.#max - this.#running.size)) return;
    throw new TooManyRequestsError(
      `Cannot start session: the browser pool is full (${this.#running.size} of ${this.#max} running, ` +
        `${queued} of ${this.#maxQueue} queued)`,
      QUEUE_RETRY_AFTER_S,
    );
  }
}
