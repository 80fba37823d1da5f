/**
 * Graceful shutdown's first step for long-lived responses: when the server drains, every WebSocket closes
 * with 1001 (going away), every SSE stream ends and every long-poll answers now, so clients re-attach to
 * another instance while in-flight requests finish.
 */
export class Drain {
  readonly #abort = new AbortController();

  /** Aborted when the drain starts; long-polls pass it on. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** True once the drain has started. */
  get draining(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Runs `fn` once when the drain starts (at once if it has); returns the function that unwatches. */
  watch(fn: () => void): () => void {
    if (this.draining) {
      fn();
      return () => {};
    }
    this.#abort.signal.addEventListener("abort", fn, { once: true });
    return () => this.#abort.signal.removeEventListener("abort", fn);
  }

  /** Starts the drain (idempotent). */
  start(): void {
    this.#abort.abort(new DOMException("The server is shutting down", "AbortError"));
  }
}

/** The close code of a socket the server closes because it is shutting down (clients reconnect elsewhere). */
export const GOING_AWAY_CLOSE_CODE = 1001;
