/**
 * Firmware strings that are not versions, as some old trackers report them (`GT06_V2.0_20200101`), on the
 * trackers' `/fota.php` (seed 002: "Checks for available firmware updates and returns FTP download links").
 * The rule: a version-like string is compared as itself; any other string is read through
 * FOTA_VERSION_PATTERN (its capture groups joined with `.`); what neither reads gets "no update" (204),
 * recorded as `unrecognised_version`. A tracker never sees a 422 or a 5xx for its firmware string.
 */
import { eq } from "drizzle-orm";
import assert from "node:assert/strict";
import { fotaDevices } from "../db/schema.ts";
import { loadConfig } from "../src/config.ts";
import { compareVersionStrings, parseReportedVersion, versionKey } from "../src/fota/version.ts";
import { ADMIN, publish } from "./fota_fixtures.ts";
import { problem, type TestApp, testApp } from "./helpers.ts";

const IMEI = "356938035643809";
/** The GT06 family's firmware names: V<version>_<build date>. */
const GT06_PATTERN = String.raw`^GT06_V(\d+(?:\.\d+)*)_(\d{8})$`;

function fotaPhp(t: TestApp, fw: string, imei = IMEI): Promise<Response> {
  return Promise.resolve(
    t.app.request(`/fota.php?${new URLSearchParams({ imei, d: "gt06", fw, sr: "SN1" })}`),
  );
}

Deno.test("/fota.php answers 204 to GT06_V2.0_20200101 without FOTA_VERSION_PATTERN, and records why", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0", url: "ftp://fw.example.com/gt06/2.1.0.bin" });
  for (const fw of ["GT06_V2.0_20200101", "build-7", "V2.0 (2020-01-01)"]) {
    const res = await fotaPhp(t, fw);
    assert.equal(res.status, 204, fw);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(await res.text(), "");
  }
  const view = await t.app.request(`/api/v1/fota/devices/${IMEI}`, { headers: ADMIN });
  assert.equal(view.status, 200);
  const state = await view.json();
  assert.equal(state.version, "V2.0 (2020-01-01)");
  assert.equal(state.source, "legacy");
  assert.equal(state.last_result, "none");
  assert.equal(state.last_reason, "unrecognised_version");
});

Deno.test("with FOTA_VERSION_PATTERN, /fota.php offers GT06_V2.0_20200101 the newer release, then 204 once it runs it", async () => {
  await using t = await testApp({ config: { FOTA_VERSION_PATTERN: GT06_PATTERN } });
  await publish(t, { version: "2.0.20200101", url: "ftp://fw.example.com/gt06/GT06_V2.0_20200101.bin" });
  await publish(t, { version: "2.1.20210315", url: "ftp://fw.example.com/gt06/GT06_V2.1_20210315.bin" });
  const updated: Record<string, unknown>[] = [];
  t.deps.events.on("fota.updated", (e) => updated.push(e.data));

  const res = await fotaPhp(t, "GT06_V2.0_20200101");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await res.text(), "ftp://fw.example.com/gt06/GT06_V2.1_20210315.bin");

  for (const fw of ["GT06_V2.1_20210315", "GT06_V2.2_20220101", "GT06_V2.1_20990101"]) {
    const up = await fotaPhp(t, fw);
    assert.equal(up.status, 204, `${fw} is not older than the newest release`);
    await up.body?.cancel();
  }
  assert.deepEqual(updated.map((d) => d.version), ["GT06_V2.1_20210315"], "the offered build was installed");
  const [state] = await t.db.db.select().from(fotaDevices).where(eq(fotaDevices.deviceId, IMEI));
  assert.equal(state.version, "GT06_V2.1_20990101", "the string is kept as the tracker sent it");
  assert.equal(state.versionKey, "2.1.20990101");
  assert.equal(state.lastReason, "up_to_date");
});

Deno.test("the offer to a GT06_V… tracker counts as installed in the release stats once it reports that build", async () => {
  await using t = await testApp({ config: { FOTA_VERSION_PATTERN: GT06_PATTERN } });
  const r = await publish(t, { version: "2.1.20210315" });
  assert.equal((await fotaPhp(t, "GT06_V2.0_20200101")).status, 200);
  t.clock.advance(3600_000);
  assert.equal((await fotaPhp(t, "GT06_V2.1_20210315")).status, 204);
  const stats = await t.app.request(`/api/v1/firmware/${r.id}/stats`, { headers: ADMIN });
  assert.equal(stats.status, 200);
  const body = await stats.json();
  assert.equal(body.offered_devices, 1);
  assert.equal(body.updated_devices, 1);
  assert.equal(body.running_devices, 1);
});

Deno.test("a version-like fw is compared as itself: a pattern that would read it lower never causes a downgrade", async () => {
  // `(\d+)` would read 2.5.0 as 2, below the catalog's 2.1.0; it applies only to strings that are not versions.
  await using t = await testApp({ config: { FOTA_VERSION_PATTERN: String.raw`(\d+)` } });
  for (const version of ["1.0.0", "2.1.0", "2.4.9-beta.1"]) await publish(t, { version });
  for (const fw of ["2.5.0", "v2.5.0", "2.5", "2.4.9", "10"]) {
    const res = await fotaPhp(t, fw);
    assert.equal(res.status, 204, fw);
    await res.body?.cancel();
  }
  // And whatever is offered is always newer than what a version-like tracker runs.
  for (const fw of ["0.9", "1.0.0", "2.1.0+build.7", "2.4.9-alpha", "2.4.9-beta.0"]) {
    const res = await fotaPhp(t, fw);
    assert.equal(res.status, 200, fw);
    const url = await res.text();
    const offeredVersion = url.match(/gt06\/(.+)\.bin$/)![1];
    assert.ok(compareVersionStrings(offeredVersion, fw) > 0, `${offeredVersion} > ${fw}`);
  }
});

Deno.test("a string FOTA_VERSION_PATTERN does not match gets 204 on /fota.php but 422 naming the pattern on /api/v1/fota/check", async () => {
  await using t = await testApp({ config: { FOTA_VERSION_PATTERN: GT06_PATTERN } });
  await publish(t, { version: "2.1.0" });
  const legacy = await fotaPhp(t, "TK103_V2.0_20200101");
  assert.equal(legacy.status, 204);
  await legacy.body?.cancel();
  const api = await t.app.request(`/api/v1/fota/check?imei=${IMEI}&device_type=gt06&version=TK103_V2.0`);
  assert.equal(api.status, 422);
  const p = await problem(api);
  assert.match(JSON.stringify(p.errors), /does not match FOTA_VERSION_PATTERN/);
  // The API route reads the pattern too.
  const matched = await t.app.request(
    `/api/v1/fota/check?imei=${IMEI}&device_type=gt06&version=GT06_V2.0_20200101`,
  );
  assert.equal(matched.status, 200);
  assert.equal((await matched.json()).version, "2.1.0");
});

Deno.test("parseReportedVersion joins the matched groups, keeps the raw string and never overrides a version", () => {
  const gt06 = new RegExp(GT06_PATTERN);
  const v = parseReportedVersion(" GT06_V2.0_20200101 ", gt06)!;
  assert.equal(v.raw, "GT06_V2.0_20200101");
  assert.equal(versionKey(v), "2.0.20200101");
  assert.equal(parseReportedVersion("GT06_V2.0_20200101"), null, "no pattern, no guess");
  assert.equal(parseReportedVersion("GT06_V2.0", gt06), null, "no match");
  assert.equal(versionKey(parseReportedVersion("1.2.3", /(\d)/)!), "1.2.3");
  const optional = /^FW(\d+)(?:r(\d+))?$/;
  assert.equal(versionKey(parseReportedVersion("FW12", optional)!), "12", "unmatched groups are left out");
  assert.equal(versionKey(parseReportedVersion("FW12r3", optional)!), "12.3");
  assert.equal(parseReportedVersion("FWx", /FW(x)/), null, "the groups must form a version");
});

Deno.test("FOTA_VERSION_PATTERN must be a RegExp with a capture group", () => {
  assert.throws(
    () => loadConfig({ FOTA_VERSION_PATTERN: "GT06_V[" }),
    /FOTA_VERSION_PATTERN is not a valid RegExp/,
  );
  assert.throws(() => loadConfig({ FOTA_VERSION_PATTERN: String.raw`GT06_V\d+` }), /needs a capture group/);
  assert.ok(loadConfig({ FOTA_VERSION_PATTERN: GT06_PATTERN }).FOTA_VERSION_PATTERN instanceof RegExp);
  assert.equal(loadConfig({}).FOTA_VERSION_PATTERN, undefined);
});
