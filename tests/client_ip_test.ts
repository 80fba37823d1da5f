/**
 * TRUST_PROXY (issue 15, item 7): the client IP is the entry the configured proxy wrote, never one the
 * client made up: spoofed left-most X-Forwarded-For entries do not escape the per-IP code limit.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.ts";
import { testApp } from "./helpers.ts";

const phones = ["+36201111111", "+36202222222", "+36203333333", "+36204444444", "+36205555555"];

/** POSTs a code request for each phone with the headers `headersOf(i)`; returns the statuses. */
async function requestCodes(
  t: Awaited<ReturnType<typeof testApp>>,
  headersOf: (i: number) => Record<string, string>,
): Promise<number[]> {
  const statuses: number[] = [];
  for (const [i, phone] of phones.entries()) {
    const res = await t.json("POST", "/api/v1/otp/request", { phone }, headersOf(i));
    statuses.push(res.status);
    await res.body?.cancel();
  }
  return statuses;
}

Deno.test("TRUST_PROXY=true trusts only the right-most X-Forwarded-For hop: spoofed entries share its limit", async () => {
  await using t = await testApp({ config: { TRUST_PROXY: "true", OTP_IP_MAX_PER_HOUR: "3" } });
  const statuses = await requestCodes(t, (i) => ({ "x-forwarded-for": `10.66.0.${i}, 203.0.113.50` }));
  assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
});

Deno.test("TRUST_PROXY=2 takes the second hop from the right (two proxies), whatever the client prepends", async () => {
  await using t = await testApp({ config: { TRUST_PROXY: "2", OTP_IP_MAX_PER_HOUR: "3" } });
  const statuses = await requestCodes(t, (i) => ({
    "x-forwarded-for": `10.66.0.${i}, 203.0.113.50, 10.0.0.${i}`,
  }));
  assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
});

Deno.test("TRUST_PROXY=fly reads Fly-Client-IP and ignores X-Forwarded-For", async () => {
  await using t = await testApp({ config: { TRUST_PROXY: "fly", OTP_IP_MAX_PER_HOUR: "3" } });
  const spoofed = await requestCodes(t, (i) => ({
    "fly-client-ip": "203.0.113.60",
    "x-forwarded-for": `10.66.0.${i}`,
  }));
  assert.deepEqual(spoofed, [202, 202, 202, 429, 429]);
  const other = await t.json("POST", "/api/v1/otp/request", { phone: "+36206666666" }, {
    "fly-client-ip": "203.0.113.61",
  });
  assert.equal(other.status, 202, "another client behind Fly has its own limit");
});

Deno.test("TRUST_PROXY=false ignores every proxy header", async () => {
  await using t = await testApp({ config: { TRUST_PROXY: "false", OTP_IP_MAX_PER_HOUR: "3" } });
  const statuses = await requestCodes(t, (i) => ({
    "x-forwarded-for": `10.66.0.${i}`,
    "fly-client-ip": `10.67.0.${i}`,
  }));
  assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
});

Deno.test("TRUST_PROXY accepts false, true, fly or a hop count, and nothing else", () => {
  const trust = (v: string) => loadConfig({ ENV: "test", TRUST_PROXY: v }).TRUST_PROXY;
  assert.equal(trust("false"), false);
  assert.equal(trust("true"), 1);
  assert.equal(trust("fly"), "fly");
  assert.equal(trust("3"), 3);
  assert.throws(() => trust("left-most"), ConfigError);
});
