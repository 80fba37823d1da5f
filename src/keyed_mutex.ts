/**
 * Runs async work one at a time per key. One instance per app (createApp makes it, or main.ts injects it
 * as `deps.claimLocks`), so two apps in one process never share their queues.
 */
export class KeyedMutex {
  readonly #running = new Map<string, Promise<unknown>>();

  /** Runs `fn` once no other `run` with `key` is in flight in this mutex; its failure is the caller's alone. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    while (this.#running.has(key)) await this.#running.get(key)!.catch(() => {});
    const run = fn();
    this.#running.set(key, run);
    try {
      return await run;
    } finally {
      this.#running.delete(key);
    }
  }

  /** How many keys have work in flight (for tests and metrics). */
  get size(): number {
    return this.#running.size;
  }
}
