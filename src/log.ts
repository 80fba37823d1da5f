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

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
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
