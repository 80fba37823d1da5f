/**
 * Warm pages: a few isolated contexts, each with a blank page, made ahead of time so that a session starts
 * without waiting for Chromium to create them (issue 16). Never more than `size`; refilled one at a time in
 * the background after each take; a browser that dies takes its warm pages with it.
 */
import type { BrowserContext, Page } from "puppeteer-core";
import type { Logger } from "../log.ts";

/** How long a refill waits after a take before it starts creating pages. */
export const REFILL_DELAY_MS = 250;
/** Refills tried again after one fails, before the next take has to start one. */
export const REFILL_RETRIES = 3;
/** The longest a refill defers to sessions still starting before it makes a page anyway. */
export const REFILL_MAX_DEFER_MS = 5000;

/** A context with its blank page, from the browser of `generation`. */
export interface WarmPage {
  context: BrowserContext;
  page: Page;
  generation: number;
}

/** The stock of warm pages of one pool. */
export class WarmPages {
  readonly #size: number;
  readonly #make: () => Promise<WarmPage>;
  readonly #log: Logger;
  readonly #busy: () => boolean;
  readonly #stock: WarmPage[] = [];
  #filling?: Promise<void>;
  /** Refills in a row that failed. */
  #failures = 0;
  #retry?: ReturnType<typeof setTimeout>;
  #closed = false;

  /**
   * `make` opens a context and page in the current browser (launching it if needed); `busy` is true while
   * sessions are still on their way to their first prompt.
   */
  constructor(size: number, make: () => Promise<WarmPage>, log: Logger, busy: () => boolean = () => false) {
    this.#size = size;
    this.#make = make;
    this.#log = log;
    this.#busy = busy;
  }

  /** How many warm pages wait now. */
  get count(): number {
    return this.#stock.length;
  }

  /** True when `context` is a warm one waiting in the stock (not lent to a session). */
  holds(context: BrowserContext): boolean {
    return this.#stock.some((w) => w.context === context);
  }

  /** Takes a warm page of browser `generation` (older ones are dropped), or undefined when none waits. */
  take(generation: number): WarmPage | undefined {
    while (this.#stock.length) {
      const warm = this.#stock.shift()!;
      if (warm.generation === generation && !warm.page.isClosed()) return warm;
      void warm.context.close().catch(() => {}); // of a browser that went away, or closed under us
    }
    return undefined;
  }

  /**
   * Tops the stock up to its size in the background, one page at a time, starting `delayMs` from now (so the
   * session that just took a page navigates without a page creation competing for the CPU); a call while
   * filling is a no-op. Each page waits until no session is still starting (for at most REFILL_MAX_DEFER_MS):
   * in a burst, the CPU goes to the sessions that wait for it, and the stock is made again after.
   */
  refill(delayMs = REFILL_DELAY_MS): void {
    if (this.#closed || this.#size === 0 || this.#filling) return;
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    this.#filling = (async () => {
      if (delayMs > 0) await pause(delayMs);
      while (!this.#closed && this.#stock.length < this.#size) {
        const step = Math.max(delayMs, 25);
        for (let waited = 0; this.#busy() && waited < REFILL_MAX_DEFER_MS && !this.#closed; waited += step) {
          await pause(step);
        }
        if (this.#closed) return;
        const warm = await this.#make();
        if (this.#closed) {
          await warm.context.close().catch(() => {});
          return;
        }
        this.#stock.push(warm);
      }
    })().then(() => void (this.#failures = 0), (err) => {
      if (this.#closed) return;
      // a page that could not be made (the browser busy or going away): tried again a few times, a second
      // apart; after that the next take starts a refill
      this.#failures++;
      this.#log.warn("warming a browser page failed", { error: err, failures: this.#failures });
      if (this.#failures <= REFILL_RETRIES) this.#retry = setTimeout(() => this.refill(0), 1000);
    }).finally(() => (this.#filling = undefined));
  }

  /** Forgets the pages of browser `generation` (it died: their contexts went with it). */
  drop(generation: number): void {
    for (let i = this.#stock.length - 1; i >= 0; i--) {
      if (this.#stock[i].generation === generation) this.#stock.splice(i, 1);
    }
  }

  /** Stops refilling and closes the waiting pages (unless the browser is closing anyway). */
  async close(closeContexts = true): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#filling;
    const stock = this.#stock.splice(0);
    if (closeContexts) await Promise.all(stock.map((w) => w.context.close().catch(() => {})));
  }
}
