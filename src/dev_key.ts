/** The development-only admin key: generated once into DATA_DIR (like the JWT secret), never in production. */
import type { Config } from "./config.ts";
import { randomToken } from "./crypto.ts";

/** Where the generated development admin key is kept. */
export function devAdminKeyFile(config: Pick<Config, "DATA_DIR">): string {
  return `${config.DATA_DIR}/admin_key`;
}

/**
 * In development with no API_KEYS, returns a key read from (or generated into) DATA_DIR/admin_key, so the
 * README's admin examples work on a fresh clone. Outside development, or when API_KEYS is set: undefined.
 */
export async function resolveDevAdminKey(config: Config): Promise<string | undefined> {
  if (config.ENV !== "development" || config.API_KEYS.length) return undefined;
  const file = devAdminKeyFile(config);
  try {
    const key = (await Deno.readTextFile(file)).trim();
    if (key) return key;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(config.DATA_DIR, { recursive: true });
  const key = `dev_${randomToken(24)}`;
  await Deno.writeTextFile(file, key, { mode: 0o600 });
  return key;
}

/** The one line the server prints when it listens: the console URL and, in development, the admin key. */
export function readyLine(config: Config, port: number): string {
  const url = `${config.PUBLIC_URL?.replace(/\/+$/, "") ?? `http://localhost:${port}`}/`;
  const key = config.ENV === "development" && config.API_KEYS[0]
    ? `  admin key (development only): ${config.API_KEYS[0]}`
    : "";
  return `gatehouse ready: console ${url}  API reference ${url}docs${key}`;
}
