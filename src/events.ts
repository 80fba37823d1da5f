/** Domain events pass through this one bus, so webhooks, metrics and sockets can hang off it. */
export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
  at: Date;
}

type Listener = (event: DomainEvent) => void;

/** A synchronous in-process fan-out of domain events; a failing listener never breaks the emitter. */
export class EventBus {
  #listeners = new Set<{ prefix: string; fn: Listener }>();
  #onError: (err: unknown, event: DomainEvent) => void;

  constructor(onError: (err: unknown, event: DomainEvent) => void = () => {}) {
    this.#onError = onError;
  }

  /** Delivers `event` to every listener whose prefix matches its type. */
  emit(type: string, data: Record<string, unknown>, at = new Date()): void {
    const event = { type, data, at };
    for (const l of this.#listeners) {
      if (!type.startsWith(l.prefix)) continue;
      try {
        l.fn(event);
      } catch (err) {
        this.#onError(err, event);
      }
    }
  }

  /** Subscribes to events whose type starts with `prefix` ("" for all); returns the unsubscribe function. */
  on(prefix: string, fn: Listener): () => void {
    const entry = { prefix, fn };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }
}
