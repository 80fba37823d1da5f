/** JSON-lines logging on stdout. Never pass secrets (codes, tokens, passwords) in fields. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** A structured logger: one JSON object per line. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Creates a logger that writes lines at or above `level` through `write`. */
export function createLogger(level: LogLevel = "info", write: (line: string) => void = console.log): Logger {
  const at = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (order[lvl] < order[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }, errorReplacer));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * An error as its class, code and message, and those of its cause: never a failed query's parameters
 * (drizzle puts them in the message after "params:"; they can hold codes, tokens and phone numbers).
 */
function errorReplacer(_key: string, value: unknown) {
  if (!(value instanceof Error)) return value;
  const { code } = value as { code?: unknown };
  let message = value.message.replace(/\nparams: [\s\S]*$/, "");
  // Postgres quotes the offending value in data (22…) and constraint (23…) errors: `for type integer: "…"`.
  if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) {
    message = message.replace(/"[^"]*"/g, '"…"');
  }
  return {
    name: value.name,
    message,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(value.cause !== undefined ? { cause: value.cause } : {}),
  };
}

/**
 * Batches log lines into one stdout write per event-loop turn (or per 64 KiB) instead of one per line:
 * per-request logging on a hot path (media auth) otherwise costs half the throughput. Dispose to flush.
 */
export class BufferedStdout implements Disposable {
  #lines: string[] = [];
  #bytes = 0;
  #timer?: ReturnType<typeof setTimeout>;
  readonly #encoder = new TextEncoder();

  /** Queues one line; pass this as the logger's `write`. */
  readonly write = (line: string): void => {
    this.#lines.push(line);
    this.#bytes += line.length + 1;
    if (this.#bytes >= 64 * 1024) this.flush();
    else this.#timer ??= setTimeout(this.flush, 0);
  };

  /** Writes everything queued, now. */
  readonly flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#lines.length) return;
    const data = this.#encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#bytes = 0;
    for (let off = 0; off < data.length;) off += Deno.stdout.writeSync(data.subarray(off));
  };

  [Symbol.dispose](): void {
    this.flush();
  }
}
