import assert from "node:assert/strict";
import { firmwareReleases } from "../db/schema.ts";
import { ADMIN, fakeSha256, publish } from "./fota_fixtures.ts";
import { problem, testApp } from "./helpers.ts";

const BASE = {
  device_type: "gt06",
  version: "1.4.0",
  url: "ftp://fw.example.com/gt06/1.4.0.bin",
  sha256: fakeSha256("1.4.0").toUpperCase(),
  size: 183_412,
};

Deno.test("POST /api/v1/firmware publishes a release and answers 201 with its JSON and Location", async () => {
  await using t = await testApp();
  const events: string[] = [];
  t.deps.events.on("firmware.", (e) => events.push(e.type));
  const res = await t.json("POST", "/api/v1/firmware", {
    ...BASE,
    md5: "0123456789ABCDEF0123456789abcdef",
    min_version: "1.0.0",
    notes: "fixes GPRS reconnect",
    rollout_percent: 25,
  }, ADMIN);
  assert.equal(res.status, 201);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const body = await res.json();
  assert.equal(res.headers.get("location"), `/api/v1/firmware/${body.id}`);
  assert.deepEqual({ ...body, id: undefined }, {
    id: undefined,
    device_type: "gt06",
    version: "1.4.0",
    url: "ftp://fw.example.com/gt06/1.4.0.bin",
    sha256: fakeSha256("1.4.0"),
    md5: "0123456789abcdef0123456789abcdef",
    size: 183_412,
    rollout_percent: 25,
    min_version: "1.0.0",
    notes: "fixes GPRS reconnect",
    paused: false,
    yanked: false,
    yanked_at: null,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  });
  assert.deepEqual(events, ["firmware.released"]);
});

Deno.test("POST /api/v1/firmware defaults rollout_percent to 100 and accepts http(s) and ftp URLs", async () => {
  await using t = await testApp();
  for (
    const [i, url] of ["http://a.example/x.bin", "https://a.example/y.bin", "ftp://a.example/z.bin"].entries()
  ) {
    const body = await publish(t, { version: `1.0.${i}`, url });
    assert.equal(body.rollout_percent, 100);
    assert.equal(body.url, url);
  }
});

Deno.test("POST /api/v1/firmware answers 409 for a device type's existing version, also in another spelling", async () => {
  await using t = await testApp();
  const first = await publish(t, { version: "1.4.0" });
  for (const version of ["1.4.0", "v1.4.0", "1.4", "1.4.0+rebuild.2"]) {
    const res = await t.json("POST", "/api/v1/firmware", { ...BASE, version }, ADMIN);
    assert.equal(res.status, 409, version);
    const p = await problem(res);
    assert.equal(p.existing_id, first.id);
  }
  // The same version for another device type is fine.
  await publish(t, { version: "1.4.0", device_type: "tk103" });
  assert.equal((await t.db.db.select().from(firmwareReleases)).length, 2);
});

Deno.test("POST /api/v1/firmware answers 422 for a malformed sha256, version, size, URL or md5, and stores nothing", async () => {
  await using t = await testApp();
  const cases: [Record<string, unknown>, string][] = [
    [{ sha256: "abc" }, "sha256"],
    [{ sha256: "g".repeat(64) }, "sha256"],
    [{ sha256: undefined }, "sha256"],
    [{ version: "one.two" }, "version"],
    [{ version: "1.2.3_b4" }, "version"],
    [{ version: "" }, "version"],
    [{ size: 0 }, "size"],
    [{ size: 1.5 }, "size"],
    [{ size: "100" }, "size"],
    [{ url: "file:///etc/passwd" }, "url"],
    [{ url: "tftp://fw.example.com/a.bin" }, "url"],
    [{ url: "javascript:alert(1)" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ url: "ftp://user:secret@fw.example.com/a.bin" }, "url"],
    [{ md5: "xyz" }, "md5"],
    [{ rollout_percent: 101 }, "rollout_percent"],
    [{ rollout_percent: -1 }, "rollout_percent"],
    [{ min_version: "latest" }, "min_version"],
    [{ device_type: "gt 06/x" }, "device_type"],
  ];
  for (const [change, field] of cases) {
    const res = await t.json("POST", "/api/v1/firmware", { ...BASE, ...change }, ADMIN);
    assert.equal(res.status, 422, JSON.stringify(change));
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), [field], JSON.stringify(change));
  }
  assert.equal((await t.db.db.select().from(firmwareReleases)).length, 0);
});

Deno.test("POST /api/v1/firmware answers 422 when min_version is not below the release's own version", async () => {
  await using t = await testApp();
  for (const min_version of ["1.4.0", "v1.4", "2.0.0"]) {
    const res = await t.json("POST", "/api/v1/firmware", { ...BASE, min_version }, ADMIN);
    assert.equal(res.status, 422, min_version);
    const p = await problem(res);
    assert.match((p.errors as { message: string }[])[0].message, /lower than the release's own version/);
  }
});

Deno.test("the catalog needs an admin API key: 401 without one, 403 with a user token", async () => {
  await using t = await testApp();
  const anon = await t.json("POST", "/api/v1/firmware", BASE);
  assert.equal(anon.status, 401);
  assert.equal((await problem(anon)).status, 401);
  const { access_token } = await t.login();
  for (const [method, path] of [["GET", "/api/v1/firmware"], ["POST", "/api/v1/firmware"]] as const) {
    const res = await t.json(method, path, method === "POST" ? BASE : undefined, {
      authorization: `Bearer ${access_token}`,
    });
    assert.equal(res.status, 403, path);
    await res.body?.cancel();
  }
  assert.equal((await t.db.db.select().from(firmwareReleases)).length, 0);
});

Deno.test("GET /api/v1/firmware lists newest version first per device type, filters by device_type, hides yanked", async () => {
  await using t = await testApp();
  for (const v of ["1.9.2", "1.10.0", "1.10.0-rc.1", "0.9"]) await publish(t, { version: v });
  await publish(t, { version: "5.0", device_type: "tk103" });
  const yanked = await publish(t, { version: "1.11.0" });
  (await t.json("DELETE", `/api/v1/firmware/${yanked.id}`, undefined, ADMIN)).body?.cancel();

  const res = await t.json("GET", "/api/v1/firmware?device_type=gt06", undefined, ADMIN);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const { releases } = await res.json();
  assert.deepEqual(releases.map((r: { version: string }) => r.version), [
    "1.10.0",
    "1.10.0-rc.1",
    "1.9.2",
    "0.9",
  ]);

  const all = await (await t.json("GET", "/api/v1/firmware?include_yanked=true", undefined, ADMIN)).json();
  assert.deepEqual(
    all.releases.map((r: { device_type: string; version: string }) => `${r.device_type}@${r.version}`),
    ["gt06@1.11.0", "gt06@1.10.0", "gt06@1.10.0-rc.1", "gt06@1.9.2", "gt06@0.9", "tk103@5.0"],
  );
});

Deno.test("GET /api/v1/firmware/:id answers the release, yanked ones too, and 404 for unknown or malformed ids", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "2.0.0" });
  const res = await t.json("GET", `/api/v1/firmware/${r.id}`, undefined, ADMIN);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), r);
  for (const id of [crypto.randomUUID(), "not-a-uuid", "1;drop table"]) {
    const miss = await t.json("GET", `/api/v1/firmware/${encodeURIComponent(id)}`, undefined, ADMIN);
    assert.equal(miss.status, 404, id);
    assert.equal((await problem(miss)).status, 404);
  }
});

Deno.test("PATCH /api/v1/firmware/:id changes rollout, pause, notes, min_version and URL, and bumps updated_at", async () => {
  await using t = await testApp();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  t.deps.events.on("firmware.", (e) => events.push(e));
  const r = await publish(t, { version: "2.0.0", rollout_percent: 10 });
  t.clock.advance(60_000);
  const res = await t.json("PATCH", `/api/v1/firmware/${r.id}`, {
    rollout_percent: 50,
    paused: true,
    notes: "ramping",
    min_version: "1.5",
    url: "https://mirror.example.com/2.0.0.bin",
  }, ADMIN);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.rollout_percent, 50);
  assert.equal(body.paused, true);
  assert.equal(body.notes, "ramping");
  assert.equal(body.min_version, "1.5");
  assert.equal(body.url, "https://mirror.example.com/2.0.0.bin");
  assert.equal(body.created_at, "2026-01-01T00:00:00.000Z");
  assert.equal(body.updated_at, "2026-01-01T00:01:00.000Z");
  assert.deepEqual(events.map((e) => e.type), ["firmware.released", "firmware.updated"]);
  const cleared =
    await (await t.json("PATCH", `/api/v1/firmware/${r.id}`, { min_version: null, notes: null }, ADMIN))
      .json();
  assert.equal(cleared.min_version, null);
  assert.equal(cleared.notes, null);
});

Deno.test("PATCH /api/v1/firmware/:id refuses to change the artifact (version, hashes, size, type) with 422", async () => {
  await using t = await testApp();
  const r = await publish(t, { version: "2.0.0" });
  for (
    const change of [
      { sha256: fakeSha256("other") },
      { size: 1 },
      { version: "2.0.1" },
      { device_type: "tk103" },
      { md5: "0".repeat(32) },
    ]
  ) {
    const res = await t.json("PATCH", `/api/v1/firmware/${r.id}`, change, ADMIN);
    assert.equal(res.status, 422, JSON.stringify(change));
    const p = await problem(res);
    assert.match((p.errors as { message: string }[])[0].message, /publish a new version/);
  }
  for (
    const bad of [{ rollout_percent: 150 }, { paused: "yes" }, { min_version: "2.0.0" }, { colour: "red" }]
  ) {
    const res = await t.json("PATCH", `/api/v1/firmware/${r.id}`, bad, ADMIN);
    assert.equal(res.status, 422, JSON.stringify(bad));
    await res.body?.cancel();
  }
  const after = await (await t.json("GET", `/api/v1/firmware/${r.id}`, undefined, ADMIN)).json();
  assert.deepEqual(after, r);
  const missing = await t.json("PATCH", `/api/v1/firmware/${crypto.randomUUID()}`, { paused: true }, ADMIN);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("DELETE /api/v1/firmware/:id yanks softly: kept for GET and stats, slot stays taken, PATCH un-yanks", async () => {
  await using t = await testApp();
  const events: string[] = [];
  t.deps.events.on("firmware.", (e) => events.push(e.type));
  const r = await publish(t, { version: "2.0.0" });
  t.clock.advance(1000);
  const del = await t.json("DELETE", `/api/v1/firmware/${r.id}`, undefined, ADMIN);
  assert.equal(del.status, 200);
  const yanked = await del.json();
  assert.equal(yanked.yanked, true);
  assert.equal(yanked.yanked_at, "2026-01-01T00:00:01.000Z");
  t.clock.advance(1000);
  const again = await (await t.json("DELETE", `/api/v1/firmware/${r.id}`, undefined, ADMIN)).json();
  assert.equal(again.yanked_at, "2026-01-01T00:00:01.000Z", "yanking twice keeps the first time");

  assert.equal((await t.json("GET", `/api/v1/firmware/${r.id}`, undefined, ADMIN)).status, 200);
  assert.equal((await t.json("GET", `/api/v1/firmware/${r.id}/stats`, undefined, ADMIN)).status, 200);
  const dup = await t.json("POST", "/api/v1/firmware", { ...BASE, version: "2.0.0" }, ADMIN);
  assert.equal(dup.status, 409);
  assert.match((await problem(dup)).detail as string, /yanked/);

  const restored = await (await t.json("PATCH", `/api/v1/firmware/${r.id}`, { yanked: false }, ADMIN)).json();
  assert.equal(restored.yanked, false);
  assert.equal(restored.yanked_at, null);
  const viaPatch = await (await t.json("PATCH", `/api/v1/firmware/${r.id}`, { yanked: true }, ADMIN)).json();
  assert.equal(viaPatch.yanked, true);
  assert.deepEqual(events, ["firmware.released", "firmware.yanked", "firmware.restored", "firmware.yanked"]);
  assert.equal((await t.db.db.select().from(firmwareReleases)).length, 1, "never hard-deleted");
});
