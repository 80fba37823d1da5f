/** Shared fixtures of the devices tests: IMEIs, an app wired to a fake Traccar, bounded polling. */
import { imeiCheckDigit } from "../src/devices/imei.ts";
import { traccarFromConfig } from "../src/devices/traccar_client.ts";
import type { FakeTraccar } from "./fakes/traccar.ts";
import { type TestApp, testApp } from "./helpers.ts";

/** A valid IMEI (Luhn) numbered `n`. */
export function imei(n: number): string {
  const body = `35693803${String(n).padStart(6, "0")}`;
  return body + imeiCheckDigit(body);
}

/** The same IMEI with a wrong check digit. */
export function badLuhn(valid: string): string {
  return valid.slice(0, 14) + String((Number(valid[14]) + 1) % 10);
}

/** Authorization header for a user token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The admin API key header (testConfig's API_KEYS). */
export const ADMIN = { "x-api-key": "admin-key" };

/** A test app whose TRACCAR_URL points at `traccar` (token auth unless `config` says otherwise). */
export function traccarApp(traccar: FakeTraccar, config: Record<string, string> = {}): Promise<TestApp> {
  return testApp({
    config: { TRACCAR_URL: traccar.url, TRACCAR_TOKEN: "tok", ...config },
    deps: (base) => ({ traccar: traccarFromConfig(base.config) }),
  });
}

/** Polls `check` every 10 ms until it returns a truthy value, failing after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Reads a JSON answer, asserting its content type. */
// deno-lint-ignore no-explicit-any
export async function jsonBody(res: Response): Promise<any> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) {
    throw new Error(`expected application/json, got ${type}: ${await res.text()}`);
  }
  return await res.json();
}
