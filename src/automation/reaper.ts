/** The reaper: on an interval, ends sessions past their deadlines and closes contexts nobody owns. */
import type { Logger } from "../log.ts";

/** Calls `reap` every `intervalMs`, never two at once; stops (and waits for a running pass) on close. */
export class Reaper implements AsyncDisposable {
  readonly #reap: () => Promise<void>;
  readonly #log: Logger;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;

  constructor(reap: () => Promise<void>, options: { intervalMs: number; log: Logger }) {
    this.#reap = reap;
    this.#log = options.log;
    this.#timer = setInterval(() => void this.tick(), options.intervalMs);
  }

  /** One pass now (skipped when one is already running); resolves when it is done. */
  tick(): Promise<void> {
    this.#running ??= this.#reap()
      .catch((err) => this.#log.error("reaper pass failed", { error: err }))
      .finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Stops the interval and waits for a pass in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
