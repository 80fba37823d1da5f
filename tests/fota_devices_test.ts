/** The two device-facing check protocols beside the JSON one: legacy /fota.php and ESP HTTPUpdate. */
import { eq } from "drizzle-orm";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { fotaDevices, fotaOffers } from "../db/schema.ts";
import { ADMIN, fakeSha256, publish } from "./fota_fixtures.ts";
import { problem, testApp } from "./helpers.ts";

const IMEI = "356938035643809";
const MAC = "cc:50:e3:55:f6:07";

/** The headers ESP8266httpUpdate sends (esp8266/Arduino ESP8266httpUpdate.cpp, handleUpdate). */
function esp8266Headers(version: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "user-agent": "ESP8266-http-Update",
    "x-ESP8266-Chip-ID": "5591047",
    "x-ESP8266-STA-MAC": MAC.toUpperCase(),
    "x-ESP8266-AP-MAC": "CE:50:E3:55:F6:07",
    "x-ESP8266-free-space": "2736128",
    "x-ESP8266-sketch-size": "408640",
    "x-ESP8266-sketch-md5": "7BA6A95CECE0ABBED66E0784C111D668",
    "x-ESP8266-chip-size": "4194304",
    "x-ESP8266-sdk-version": "2.2.1(cfd48f3)",
    "x-ESP8266-mode": "sketch",
    ...(version === null ? {} : { "x-ESP8266-version": version }),
    ...extra,
  };
}

// ------------------------------------------------------------------------------------ /fota.php

Deno.test("GET /fota.php answers 200 text/plain with just the download link when an update applies", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0", url: "ftp://fw.example.com/gt06/2.1.0.bin" });
  const res = await t.app.request(`/fota.php?imei=${IMEI}&sr=SN0042&d=gt06&fw=2.0.3&rev=B`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await res.text(), "ftp://fw.example.com/gt06/2.1.0.bin");
  const [state] = await t.db.db.select().from(fotaDevices);
  assert.equal(state.deviceId, IMEI);
  assert.equal(state.source, "legacy");
  assert.equal(state.serial, "SN0042");
  assert.equal(state.revision, "B");
  assert.equal(state.version, "2.0.3");
  assert.equal(state.lastResult, "offered");
});

Deno.test("GET /fota.php answers 204 with an empty body when the tracker is up to date", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0" });
  for (const fw of ["2.1.0", "V2.1.0", "2.2"]) {
    const res = await t.app.request(`/fota.php?imei=${IMEI}&d=gt06&fw=${fw}`);
    assert.equal(res.status, 204, fw);
    assert.equal(await res.text(), "");
  }
});

Deno.test("POST /fota.php reads form fields (urlencoded and multipart) as well as the query", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0" });
  const form = new URLSearchParams({ imei: IMEI, sr: "SN1", d: "gt06", fw: "2.0.0", rev: "A" });
  const urlencoded = await t.app.request("/fota.php", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  assert.equal(urlencoded.status, 200);
  assert.match(urlencoded.headers.get("content-type")!, /^text\/plain/);
  assert.equal(await urlencoded.text(), "https://fw.example.com/gt06/2.1.0.bin");

  const multipart = new FormData();
  for (const [k, v] of form) multipart.set(k, v);
  multipart.set("imei", "356938035643817");
  const mp = await t.app.request("/fota.php", { method: "POST", body: multipart });
  assert.equal(mp.status, 200);
  assert.equal(await mp.text(), "https://fw.example.com/gt06/2.1.0.bin");

  const queryOnly = await t.app.request(`/fota.php?imei=${IMEI}&d=gt06&fw=2.1.0`, { method: "POST" });
  assert.equal(queryOnly.status, 204);
  await queryOnly.body?.cancel();
  assert.equal((await t.db.db.select().from(fotaDevices)).length, 2);
});

Deno.test("POST /fota.php takes a form field over the same field in the query (readLegacyFields' rule)", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0" });
  const upToDate = await t.app.request(`/fota.php?imei=${IMEI}&d=gt06&fw=2.0.0`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ fw: "2.1.0" }).toString(),
  });
  assert.equal(upToDate.status, 204, "the form's fw=2.1.0 counts, not the query's 2.0.0");
  await upToDate.body?.cancel();
});

// A fw that is there but not a version is no 422: see fota_firmware_strings_test.ts.
Deno.test("/fota.php answers 422 naming the field for a missing imei, type or fw", async () => {
  await using t = await testApp();
  await publish(t, { version: "2.1.0" });
  const cases: [string, string][] = [
    ["d=gt06&fw=1.0", "imei"],
    [`imei=${IMEI}&fw=1.0`, "d"],
    [`imei=${IMEI}&d=gt06`, "fw"],
    [`imei=${IMEI}&d=gt06&fw=${"9".repeat(201)}`, "fw"],
  ];
  for (const [qs, field] of cases) {
    const res = await t.app.request(`/fota.php?${qs}`);
    assert.equal(res.status, 422, qs);
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), [field], qs);
  }
  const put = await t.app.request(`/fota.php?imei=${IMEI}&d=gt06&fw=1.0`, { method: "PUT" });
  assert.equal(put.status, 404);
  await put.body?.cancel();
});

// ------------------------------------------------------------------------------------ ESP HTTPUpdate

Deno.test("GET /api/v1/fota/esp answers 304 when no update applies and records the board by its STA MAC", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.0.0", device_type: "plug" });
  const res = await t.app.request("/api/v1/fota/esp?device_type=plug", { headers: esp8266Headers("1.0.0") });
  assert.equal(res.status, 304);
  assert.equal(await res.text(), "");
  const [state] = await t.db.db.select().from(fotaDevices);
  assert.equal(state.deviceId, "CC:50:E3:55:F6:07");
  assert.equal(state.source, "esp");
  assert.equal(state.freeSpace, 2736128);
  assert.equal(state.sketchHash, "md5:7ba6a95cece0abbed66e0784c111d668");
  assert.equal(state.lastResult, "none");
});

Deno.test("GET /api/v1/fota/esp answers 302 to the binary with x-MD5 when the release has an md5", async () => {
  await using t = await testApp();
  const md5 = "5d41402abc4b2a76b9719d911017c592";
  await publish(t, {
    version: "1.1.0",
    device_type: "plug",
    url: "https://fw.example.com/plug-1.1.0.bin",
    md5,
  });
  const res = await t.app.request("/api/v1/fota/esp?device_type=plug", { headers: esp8266Headers("1.0.0") });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "https://fw.example.com/plug-1.1.0.bin");
  assert.equal(res.headers.get("x-md5"), md5);
  assert.equal(res.headers.get("x-firmware-version"), "1.1.0");
  assert.equal(res.headers.get("cache-control"), "no-store");
  await res.body?.cancel();

  await publish(t, { version: "1.2.0", device_type: "plug", url: "https://fw.example.com/plug-1.2.0.bin" });
  const noMd5 = await t.app.request("/api/v1/fota/esp?device_type=plug", {
    headers: esp8266Headers("1.1.0"),
  });
  assert.equal(noMd5.status, 302);
  assert.equal(noMd5.headers.get("location"), "https://fw.example.com/plug-1.2.0.bin");
  assert.equal(noMd5.headers.get("x-md5"), null);
  await noMd5.body?.cancel();
});

Deno.test("GET /api/v1/fota/esp refuses a binary larger than the free space with 304, recorded with the reason", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "1.1.0", device_type: "plug", size: 500_000 });
  const small = await t.app.request("/api/v1/fota/esp?device_type=plug", {
    headers: esp8266Headers("1.0.0", { "x-ESP8266-free-space": "499999" }),
  });
  assert.equal(small.status, 304);
  assert.equal(small.headers.get("x-gatehouse-reason"), "insufficient_space");
  await small.body?.cancel();
  const [state] = await t.db.db.select().from(fotaDevices);
  assert.equal(state.lastResult, "refused");
  assert.equal(state.lastReason, "insufficient_space: 1.1.0 needs 500000 bytes, device has 499999 free");
  assert.equal(state.lastReleaseId, r.id);
  const stats = await (await t.json("GET", `/api/v1/firmware/${r.id}/stats`, undefined, ADMIN)).json();
  assert.equal(stats.refused_devices, 1);
  assert.equal(stats.offered_devices, 0);

  const exact = await t.app.request("/api/v1/fota/esp?device_type=plug", {
    headers: esp8266Headers("1.0.0", { "x-ESP8266-free-space": "500000" }),
  });
  assert.equal(exact.status, 302, "a binary exactly the size of the free space fits");
  await exact.body?.cancel();
  const [offer] = await t.db.db.select().from(fotaOffers).where(eq(fotaOffers.releaseId, r.id));
  assert.equal(offer.refusals, 1);
  assert.equal(offer.offers, 1);
});

Deno.test("GET /api/v1/fota/esp reads the x-ESP32-* headers, and never redirects an ESP to an ftp: URL", async () => {
  await using t = await testApp();
  await publish(t, { version: "3.0.0", device_type: "cam", url: "ftp://fw.example.com/cam-3.0.0.bin" });
  const sha = fakeSha256("running").toUpperCase();
  const headers = {
    "user-agent": "ESP32-http-Update",
    "x-ESP32-STA-MAC": "24:0A:C4:00:01:10",
    "x-ESP32-AP-MAC": "24:0A:C4:00:01:11",
    "x-ESP32-free-space": "1966080",
    "x-ESP32-sketch-size": "913424",
    "x-ESP32-sketch-sha256": sha,
    "x-ESP32-chip-size": "4194304",
    "x-ESP32-sdk-version": "v4.4.7",
    "x-ESP32-mode": "sketch",
    "x-ESP32-version": "2.9.0",
  };
  const ftp = await t.app.request("/api/v1/fota/esp?device_type=cam", { headers });
  assert.equal(ftp.status, 304);
  assert.equal(ftp.headers.get("x-gatehouse-reason"), "url_scheme");
  await ftp.body?.cancel();
  const [state] = await t.db.db.select().from(fotaDevices);
  assert.equal(state.deviceId, "24:0A:C4:00:01:10");
  assert.equal(state.sketchHash, `sha256:${sha.toLowerCase()}`);
  assert.match(state.lastReason!, /^url_scheme/);

  await publish(t, { version: "3.0.1", device_type: "cam", url: "http://fw.example.com/cam-3.0.1.bin" });
  const http = await t.app.request("/api/v1/fota/esp?device_type=cam", { headers });
  assert.equal(http.status, 302);
  assert.equal(http.headers.get("location"), "http://fw.example.com/cam-3.0.1.bin");
  await http.body?.cancel();
});

Deno.test("GET /api/v1/fota/esp answers 422 without the updater's MAC or version header, or with junk in them", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.1.0", device_type: "plug" });
  const cases: [Record<string, string>, string][] = [
    [{}, "x-ESP8266-STA-MAC"],
    [esp8266Headers(null), "x-ESP8266-version"],
    [esp8266Headers("not.a.version!"), "x-ESP8266-version"],
    [esp8266Headers("1.0", { "x-ESP8266-STA-MAC": "nope" }), "x-ESP8266-STA-MAC"],
    [esp8266Headers("1.0", { "x-ESP8266-free-space": "lots" }), "x-ESP8266-free-space"],
  ];
  for (const [headers, field] of cases) {
    const res = await t.app.request("/api/v1/fota/esp?device_type=plug", { headers });
    assert.equal(res.status, 422, field);
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), [field]);
  }
  const noType = await t.app.request("/api/v1/fota/esp", { headers: esp8266Headers("1.0") });
  assert.equal(noType.status, 422);
  await noType.body?.cancel();
  assert.equal((await t.db.db.select().from(fotaDevices)).length, 0);
});

Deno.test("an ESP updater with redirects on follows the 302 to a real file server and gets a binary that fits and matches", async () => {
  await using t = await testApp();
  const binary = new Uint8Array(4096).map((_, i) => (i * 7 + 0xe9) & 0xff);
  binary[0] = 0xe9; // the ESP image magic byte the updater checks
  const md5 = createHash("md5").update(binary).digest("hex");
  const sha256 = createHash("sha256").update(binary).digest("hex");
  const files = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/plug-1.1.0.bin") return new Response("not found", { status: 404 });
    // Like the updater's own example servers, the file server repeats x-MD5, because HTTPClient drops
    // headers collected before a redirect.
    return new Response(binary, { headers: { "content-type": "application/octet-stream", "x-MD5": md5 } });
  });
  const gatehouse = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, t.app.fetch);
  try {
    const url = `http://127.0.0.1:${files.addr.port}/plug-1.1.0.bin`;
    await publish(t, { version: "1.1.0", device_type: "plug", url, sha256, md5, size: binary.length });

    // HTTPC_STRICT_FOLLOW_REDIRECTS: a GET is re-sent to Location; the answer there must be 200.
    const check = await fetch(`http://127.0.0.1:${gatehouse.addr.port}/api/v1/fota/esp?device_type=plug`, {
      headers: esp8266Headers("1.0.0", { "x-ESP8266-free-space": "1000000" }),
      redirect: "manual",
    });
    assert.equal(check.status, 302);
    await check.body?.cancel();
    const download = await fetch(new URL(check.headers.get("location")!, check.url));
    assert.equal(download.status, 200);
    const len = Number(download.headers.get("content-length"));
    assert.ok(len > 0 && len <= 1_000_000, "Content-Length present and within free space");
    const body = new Uint8Array(await download.arrayBuffer());
    assert.equal(body[0], 0xe9);
    assert.equal(createHash("md5").update(body).digest("hex"), download.headers.get("x-md5"));
    assert.equal(createHash("md5").update(body).digest("hex"), check.headers.get("x-md5"));

    // After flashing, the board reports the new version and gets 304.
    const after = await fetch(`http://127.0.0.1:${gatehouse.addr.port}/api/v1/fota/esp?device_type=plug`, {
      headers: esp8266Headers("1.1.0"),
      redirect: "manual",
    });
    assert.equal(after.status, 304);
    await after.body?.cancel();
  } finally {
    await gatehouse.shutdown();
    await files.shutdown();
  }
});
