import { eq } from "drizzle-orm";
import assert from "node:assert/strict";
import { fotaDevices, fotaDeviceVersions, fotaOffers } from "../db/schema.ts";
import { ADMIN, check, imeis, offered, patch, publish } from "./fota_fixtures.ts";
import { problem, testApp } from "./helpers.ts";

const IMEI = "356938035643809";

Deno.test("GET /api/v1/fota/check offers a newer release to a never-seen, unclaimed device without any token", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "1.4.0", md5: "0123456789abcdef0123456789abcdef" });
  const res = await t.app.request(`/api/v1/fota/check?imei=${IMEI}&device_type=gt06&version=1.3.9`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(await res.json(), {
    release_id: r.id,
    version: "1.4.0",
    url: "https://fw.example.com/gt06/1.4.0.bin",
    sha256: r.sha256,
    size: 200_000,
    md5: "0123456789abcdef0123456789abcdef",
  });
  // A bad user token does not matter either: the route does not look at credentials.
  const withJunk = await t.app.request(`/api/v1/fota/check?imei=${IMEI}&device_type=gt06&version=1.3.9`, {
    headers: { authorization: "Bearer junk" },
  });
  assert.equal(withJunk.status, 200);
  await withJunk.body?.cancel();
});

Deno.test("GET /api/v1/fota/check answers 204 when nothing newer applies and never offers a downgrade", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.9.2" });
  await publish(t, { version: "1.10.0" });
  for (const version of ["1.10.0", "v1.10.0", "1.10", "1.10.0+local.3", "1.10.1", "2.0.0-alpha", "10"]) {
    const res = await check(t, { imei: IMEI, version });
    assert.equal(res.status, 204, version);
    assert.equal(await res.text(), "");
  }
  assert.equal(await offered(t, { imei: IMEI, version: "1.9.2" }), "1.10.0", "1.10.0 > 1.9.2");
  assert.equal(await offered(t, { imei: IMEI, version: "1.2" }), "1.10.0");
  assert.equal(
    await offered(t, { imei: IMEI, version: "1.10.0", device_type: "tk103" }),
    null,
    "unknown type",
  );
});

Deno.test("GET /api/v1/fota/check orders pre-releases below their release", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.2.0-beta.1" });
  assert.equal(await offered(t, { imei: IMEI, version: "1.1.9" }), "1.2.0-beta.1");
  assert.equal(await offered(t, { imei: IMEI, version: "1.2.0-alpha.7" }), "1.2.0-beta.1");
  assert.equal(await offered(t, { imei: IMEI, version: "1.2.0" }), null, "1.2.0-beta.1 < 1.2.0");
  await publish(t, { version: "1.2.0" });
  assert.equal(await offered(t, { imei: IMEI, version: "1.2.0-beta.1" }), "1.2.0");
  await publish(t, { version: "1.2.0-beta.2" });
  assert.equal(
    await offered(t, { imei: IMEI, version: "1.2.0-beta.1" }),
    "1.2.0",
    "the release beats its betas",
  );
});

Deno.test("GET /api/v1/fota/check answers 422 for a version that does not parse or missing fields, and records nothing", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.4.0" });
  const cases: [string, string][] = [
    [`imei=${IMEI}&device_type=gt06&version=banana`, "version"],
    [`imei=${IMEI}&device_type=gt06&version=1.2.3_b4`, "version"],
    [`imei=${IMEI}&device_type=gt06&version=${"9".repeat(70)}`, "version"],
    [`imei=${IMEI}&device_type=gt06`, "version"],
    [`device_type=gt06&version=1.0`, "imei"],
    [`imei=${IMEI}&version=1.0`, "device_type"],
    [`imei=${IMEI}%20OR%201=1&device_type=gt06&version=1.0`, "imei"],
  ];
  for (const [qs, field] of cases) {
    const res = await t.app.request(`/api/v1/fota/check?${qs}`);
    assert.equal(res.status, 422, qs);
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), [field], qs);
  }
  assert.equal((await t.db.db.select().from(fotaDevices)).length, 0);
});

Deno.test("min_version makes a device hop through the newest release whose own min_version it meets", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.0.0" });
  await publish(t, { version: "1.5.0" });
  await publish(t, { version: "1.6.0", min_version: "1.2.0" });
  await publish(t, { version: "2.0.0", min_version: "1.6.0" });
  assert.equal(await offered(t, { imei: IMEI, version: "1.0.0" }), "1.5.0");
  assert.equal(await offered(t, { imei: IMEI, version: "1.5.0" }), "1.6.0");
  assert.equal(await offered(t, { imei: IMEI, version: "1.6.0" }), "2.0.0");
  assert.equal(await offered(t, { imei: IMEI, version: "2.0.0" }), null);
  const [state] = await t.db.db.select().from(fotaDevices);
  assert.equal(state.version, "2.0.0");
  assert.equal(state.lastResult, "none");
  assert.equal(state.lastReason, "up_to_date");
});

Deno.test("paused and yanked releases are not offered; devices fall back to the newest offerable one", async () => {
  await using t = await testApp();
  await publish(t, { version: "1.0.0" });
  await publish(t, { version: "1.1.0" });
  const r12 = await publish(t, { version: "1.2.0" });
  assert.equal(await offered(t, { imei: IMEI, version: "1.0.0" }), "1.2.0");

  await patch(t, r12.id, { paused: true });
  assert.equal(await offered(t, { imei: IMEI, version: "1.0.0" }), "1.1.0");
  assert.equal(await offered(t, { imei: IMEI, version: "1.1.0" }), null);
  await patch(t, r12.id, { paused: false });
  assert.equal(await offered(t, { imei: IMEI, version: "1.1.0" }), "1.2.0");

  const del = await t.json("DELETE", `/api/v1/firmware/${r12.id}`, undefined, ADMIN);
  assert.equal(del.status, 200);
  await del.body?.cancel();
  assert.equal(await offered(t, { imei: IMEI, version: "1.0.0" }), "1.1.0");
  assert.equal(await offered(t, { imei: IMEI, version: "1.1.0" }), null);
  // A device already running the yanked build is not "downgraded" to 1.1.0 either.
  assert.equal(await offered(t, { imei: IMEI, version: "1.2.0" }), null);
  await patch(t, r12.id, { yanked: false });
  assert.equal(await offered(t, { imei: IMEI, version: "1.1.0" }), "1.2.0");
});

Deno.test("at 50% about half of 1,000 IMEIs get the offer, the same half every poll, and 70% keeps all of them", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "2.0.0", rollout_percent: 50 });
  const devices = imeis(1000);
  const poll = async () => {
    const got = new Set<string>();
    for (let i = 0; i < devices.length; i += 25) {
      await Promise.all(
        devices.slice(i, i + 25).map(async (imei) => {
          if (await offered(t, { imei, version: "1.0.0" }) === "2.0.0") got.add(imei);
        }),
      );
    }
    return got;
  };
  const first = await poll();
  assert.ok(first.size >= 450 && first.size <= 550, `50% offered to ${first.size} of 1000`);
  const second = await poll();
  assert.deepEqual([...second].sort(), [...first].sort(), "the same devices on the second poll");

  await patch(t, r.id, { rollout_percent: 70 });
  const wider = await poll();
  assert.ok(wider.size >= 650 && wider.size <= 750, `70% offered to ${wider.size} of 1000`);
  const dropped = [...first].filter((d) => !wider.has(d));
  assert.deepEqual(dropped, [], "raising the percentage removed devices");

  const stats = await (await t.json("GET", `/api/v1/firmware/${r.id}/stats`, undefined, ADMIN)).json();
  assert.equal(stats.offered_devices, wider.size);
  assert.equal(stats.offers, first.size * 2 + wider.size);
});

Deno.test("a device outside the newest release's rollout falls back to the newest release it is in", async () => {
  await using t = await testApp();
  const stable = await publish(t, { version: "1.5.0" });
  const canary = await publish(t, { version: "2.0.0", rollout_percent: 10 });
  const devices = imeis(200);
  const answers = new Map<string, string | null>();
  for (const imei of devices) answers.set(imei, await offered(t, { imei, version: "1.0.0" }));
  const canaries = devices.filter((d) => answers.get(d) === "2.0.0");
  assert.ok(canaries.length > 5 && canaries.length < 40, `10% gave ${canaries.length} of 200`);
  assert.ok(devices.every((d) => answers.get(d) === "2.0.0" || answers.get(d) === "1.5.0"));
  // Outside the canary and already on the stable release: nothing to do until the rollout reaches it.
  const outsider = devices.find((d) => answers.get(d) === "1.5.0")!;
  assert.equal(await offered(t, { imei: outsider, version: "1.5.0" }), null);
  const [state] = await t.db.db.select().from(fotaDevices).where(eq(fotaDevices.deviceId, outsider));
  assert.equal(state.lastReason, "outside_rollout");
  await patch(t, canary.id, { rollout_percent: 0 });
  assert.equal(await offered(t, { imei: canaries[0], version: "1.0.0" }), "1.5.0");
  await patch(t, stable.id, { rollout_percent: 0 });
  assert.equal(await offered(t, { imei: canaries[0], version: "1.0.0" }), null);
});

Deno.test("every check records the device's latest report, readable by admins at /api/v1/fota/devices/:id", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "1.4.0" });
  await offered(t, { imei: IMEI, version: "1.3.0" });
  t.clock.advance(3600_000);
  await offered(t, { imei: IMEI, version: "1.4.0" });
  const res = await t.json("GET", `/api/v1/fota/devices/${IMEI}`, undefined, ADMIN);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    device_id: IMEI,
    device_type: "gt06",
    version: "1.4.0",
    source: "api",
    serial: null,
    revision: null,
    free_space: null,
    sketch_hash: null,
    last_result: "none",
    last_reason: "up_to_date",
    last_release_id: null,
    first_seen_at: "2026-01-01T00:00:00.000Z",
    last_check_at: "2026-01-01T01:00:00.000Z",
  });
  const history = await t.db.db.select().from(fotaDeviceVersions);
  assert.deepEqual(history.map((h) => h.versionKey).sort(), ["1.3", "1.4"]);
  const offers = await t.db.db.select().from(fotaOffers);
  assert.deepEqual(offers.map((o) => [o.releaseId, o.deviceId, o.offers]), [[r.id, IMEI, 1]]);

  const anon = await t.app.request(`/api/v1/fota/devices/${IMEI}`);
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  const unknown = await t.json("GET", "/api/v1/fota/devices/356938035643817", undefined, ADMIN);
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("GET /api/v1/firmware/:id/stats counts devices offered vs. those that later reported running it", async () => {
  await using t = await testApp();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  t.deps.events.on("fota.", (e) => events.push(e));
  const r = await publish(t, { version: "2.0.0" });
  const [a, b, c] = imeis(3);
  await offered(t, { imei: a, version: "1.0.0" });
  await offered(t, { imei: b, version: "1.0.0" });
  t.clock.advance(60_000);
  await offered(t, { imei: b, version: "1.0.0" }); // b polls again before installing
  t.clock.advance(60_000);
  assert.equal(await offered(t, { imei: a, version: "v2.0.0" }), null); // a installed it
  assert.equal(await offered(t, { imei: a, version: "2.0.0" }), null);
  assert.equal(await offered(t, { imei: c, version: "2.0.0" }), null); // c was flashed with it, never offered

  const res = await t.json("GET", `/api/v1/firmware/${r.id}/stats`, undefined, ADMIN);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await res.json(), {
    release_id: r.id,
    device_type: "gt06",
    version: "2.0.0",
    rollout_percent: 100,
    paused: false,
    yanked: false,
    offered_devices: 2,
    offers: 3,
    updated_devices: 1,
    refused_devices: 0,
    running_devices: 2,
  });
  assert.deepEqual(events.map((e) => [e.type, e.data.device_id]), [
    ["fota.offered", a],
    ["fota.offered", b],
    ["fota.updated", a],
  ]);

  // Stats survive a yank, and a device that moves on past the release still counts as updated.
  (await t.json("DELETE", `/api/v1/firmware/${r.id}`, undefined, ADMIN)).body?.cancel();
  await publish(t, { version: "2.1.0" });
  await offered(t, { imei: a, version: "2.1.0" });
  const after = await (await t.json("GET", `/api/v1/firmware/${r.id}/stats`, undefined, ADMIN)).json();
  assert.equal(after.yanked, true);
  assert.equal(after.updated_devices, 1);
  assert.equal(after.running_devices, 1);
  const missing = await t.json("GET", `/api/v1/firmware/${crypto.randomUUID()}/stats`, undefined, ADMIN);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
