/** Owns long-lived resources and closes them in reverse order of opening, once. */
export class Resources implements AsyncDisposable {
  #stack: { name: string; close: () => unknown }[] = [];
  #closing?: Promise<void>;

  constructor(private readonly onError: (name: string, err: unknown) => void = () => {}) {}

  /** Registers `close` to run at shutdown; returns `value` for chaining. */
  add<T>(name: string, value: T, close: (value: T) => unknown): T {
    this.#stack.push({ name, close: () => close(value) });
    return value;
  }

  /** Closes everything, last opened first; errors are reported and do not stop the others. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#stack.length) {
        const { name, close } = this.#stack.pop()!;
        try {
          await close();
        } catch (err) {
          this.onError(name, err);
        }
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** True when `promise` settles within `ms`. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
