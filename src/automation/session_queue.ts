/** Admission: at most MAX_SESSIONS run on this instance and MAX_QUEUE wait; beyond that, a 429. */
import { TooManyRequestsError } from "../errors.ts";

/** Retry-After for a full queue: sessions are usually short, and a client should not hammer. */
export const QUEUE_RETRY_AFTER_S = 10;

/** A queued item: anything with an id that can tell whether it already ended. */
export interface Queued {
  readonly id: string;
  readonly final: boolean;
}

/** The running set and the waiting line of one instance. */
export class SessionQueue<T extends Queued> {
  readonly #maxRunning: number;
  readonly #maxQueue: number;
  readonly #running = new Set<string>();
  #waiting: T[] = [];
  #reserved = 0;

  constructor(limits: { maxRunning: number; maxQueue: number }) {
    this.#maxRunning = limits.maxRunning;
    this.#maxQueue = limits.maxQueue;
  }

  /** Sessions running now / waiting for a slot. */
  load(): { running: number; queued: number; max: number; maxQueue: number } {
    return {
      running: this.#running.size,
      queued: this.#waiting.length,
      max: this.#maxRunning,
      maxQueue: this.#maxQueue,
    };
  }

  /**
   * Holds a place in line while the session is being stored (429 when none is left); the returned
   * function gives the place back (call it once the session is enqueued, or was not created).
   */
  reserve(): () => void {
    const waiting = this.#waiting.length + this.#reserved;
    if (this.#running.size + waiting >= this.#maxRunning + this.#maxQueue) {
      throw new TooManyRequestsError(
        `Cannot start session: the browser pool is full (${this.#running.size} of ${this.#maxRunning} running, ` +
          `${waiting} of ${this.#maxQueue} queued)`,
        QUEUE_RETRY_AFTER_S,
      );
    }
    this.#reserved++;
    let released = false;
    return () => {
      if (!released) this.#reserved--;
      released = true;
    };
  }

  /** Puts `item` at the end of the line. */
  enqueue(item: T): void {
    this.#waiting.push(item);
  }

  /** 1-based place of `id` in the line, or 0 when it is not waiting. */
  position(id: string): number {
    return this.#waiting.findIndex((w) => w.id === id) + 1;
  }

  /** Takes the items that fit the free slots (skipping ended ones) and counts them as running. */
  admit(): T[] {
    const started: T[] = [];
    while (this.#running.size < this.#maxRunning && this.#waiting.length) {
      const item = this.#waiting.shift()!;
      if (item.final) continue;
      this.#running.add(item.id);
      started.push(item);
    }
    return started;
  }

  /** Forgets `item`: frees its slot, or its place in line. */
  remove(item: T): void {
    this.#running.delete(item.id);
    this.#waiting = this.#waiting.filter((w) => w !== item);
  }
}
