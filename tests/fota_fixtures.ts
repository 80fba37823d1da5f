/** Fixtures shared by the fota tests: IMEIs, releases, and calls to the catalog and check routes. */
import assert from "node:assert/strict";
import type { TestApp } from "./helpers.ts";

/** Headers carrying the test API key. */
export const ADMIN = { "x-api-key": "admin-key" };

/** `n` distinct 15-digit IMEIs with valid Luhn check digits, the same on every run. */
export function imeis(n: number, tac = "35693803"): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const body = tac + String(100000 + i * 37).padStart(6, "0").slice(-6);
    let sum = 0;
    for (let j = 0; j < 14; j++) {
      let d = Number(body[j]);
      if (j % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    out.push(body + String((10 - (sum % 10)) % 10));
  }
  return out;
}

/** A deterministic fake SHA-256 hex digest. */
export function fakeSha256(seed: string): string {
  let h = "";
  for (let i = 0; h.length < 64; i++) h += ((seed.charCodeAt(i % seed.length) * 31 + i) % 16).toString(16);
  return h;
}

/** Publishes a release (defaults filled in) and returns its JSON; fails the test unless 201. */
export async function publish(
  t: TestApp,
  body: Record<string, unknown> & { version: string },
): Promise<Record<string, unknown> & { id: string }> {
  const res = await t.json("POST", "/api/v1/firmware", {
    device_type: "gt06",
    url: `https://fw.example.com/gt06/${body.version}.bin`,
    sha256: fakeSha256(body.version),
    size: 200_000,
    ...body,
  }, ADMIN);
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

/** Calls `GET /api/v1/fota/check`. */
export function check(
  t: TestApp,
  q: { imei: string; version: string; device_type?: string },
): Promise<Response> {
  const qs = new URLSearchParams({ device_type: "gt06", ...q });
  return Promise.resolve(t.app.request(`/api/v1/fota/check?${qs}`));
}

/** The offered version, or null on 204; fails on any other status. */
export async function offered(t: TestApp, q: { imei: string; version: string; device_type?: string }) {
  const res = await check(t, q);
  if (res.status === 204) return null;
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).version as string;
}

/** PATCHes a release and returns its JSON; fails unless 200. */
export async function patch(t: TestApp, id: string, body: Record<string, unknown>) {
  const res = await t.json("PATCH", `/api/v1/firmware/${id}`, body, ADMIN);
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}
