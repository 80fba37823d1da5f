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
