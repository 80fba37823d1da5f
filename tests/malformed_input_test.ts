/**
 * Malformed input is a clear 4xx that changes nothing (issue 15, items 2 and 3): text with NUL characters,
 * and a JSON route's body sent with another content type.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { firmwareReleases } from "../db/schema.ts";
import { createLogger } from "../src/log.ts";
import { addCamera } from "./camera_helpers.ts";
import { ADMIN, publish } from "./fota_fixtures.ts";
import { problem, testApp } from "./helpers.ts";

Deno.test("text fields with a NUL character answer 422 naming the field, and change nothing", async () => {
  await using t = await testApp();
  const cam = await addCamera(t, "gate-1", { title: "Gate" });
  const res = await t.json("PATCH", `/api/v1/cameras/${cam.id}`, { title: "a\u0000b" }, ADMIN);
  assert.equal(res.status, 422);
  assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
  assert.deepEqual((await problem(res)).errors, [{
    field: "title",
    message: "must not contain NUL characters",
  }]);
  const after = await (await t.json("GET", `/api/v1/cameras/${cam.id}`, undefined, ADMIN)).json();
  assert.equal(after.title, "Gate");
});

Deno.test("NUL in the old trackers' query fields is a 4xx, never a 5xx", async () => {
  await using t = await testApp();
  for (
    const path of [
      "/qussd.php?imei=356938035643809&data=%00",
      "/fota.php?imei=356938035643809&d=gt06&fw=1.0&sr=%00",
    ]
  ) {
    const res = await t.app.request(path);
    assert.ok(res.status >= 400 && res.status < 500, `${path} answered ${res.status}`);
    await res.body?.cancel();
  }
  const res = await t.app.request("/api/v1/fota/devices/%00", { headers: ADMIN });
  assert.ok(res.status >= 400 && res.status < 500, `the device lookup answered ${res.status}`);
  await res.body?.cancel();
});

Deno.test("a JSON route answers 415 to a body of another content type, and changes nothing", async () => {
  await using t = await testApp();
  const fw = await publish(t, { version: "1.0.0" });
  const [before] = await t.db.db.select().from(firmwareReleases);
  const res = await t.app.request(`/api/v1/firmware/${fw.id}`, {
    method: "PATCH",
    headers: { ...ADMIN, "content-type": "text/plain" },
    body: JSON.stringify({ paused: true }),
  });
  assert.equal(res.status, 415);
  assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
  assert.match(String((await problem(res)).detail), /application\/json/);
  const [after] = await t.db.db.select().from(firmwareReleases);
  assert.deepEqual(after, before, "neither paused nor updated_at changed");
});

Deno.test("a multipart body without a readable boundary is a 400 on the legacy routes and the demo forms", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "true" } });
  const paths = ["/qussd.php", "/fota.php", "/demo/registry/login", "/demo/tax/login"];
  for (const path of paths) {
    for (const type of ["multipart/form-data", "multipart/form-data; boundary=zzz"]) {
      const res = await t.app.request(path, {
        method: "POST",
        headers: { "content-type": type },
        body: "--x\r\nfoo\r\n",
      });
      assert.equal(res.status, 400, `${path} with ${type}`);
      assert.match(String((await problem(res)).detail), /Malformed form data/);
    }
  }
});

Deno.test("admin POST /api/v1/devices for a user that does not exist is a 422 naming user_id", async () => {
  await using t = await testApp();
  const res = await t.json("POST", "/api/v1/devices", {
    imei: "356938035643809",
    user_id: crypto.randomUUID(),
  }, ADMIN);
  assert.equal(res.status, 422);
  assert.deepEqual((await problem(res)).errors, [{
    field: "user_id",
    message: "refers to a record that does not exist",
  }]);
  assert.equal(t.log.lines.filter((l) => l.includes('"level":"error"')).length, 0);
});

Deno.test("an access token signed with the real key whose sid is not a UUID is a 401", async () => {
  await using t = await testApp();
  const { user } = await t.login();
  const token = await t.deps.jwt.sign({ sub: user.id, sid: "not-a-uuid" }, 600);
  const res = await t.json("GET", "/api/v1/devices", undefined, { authorization: `Bearer ${token}` });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
});

Deno.test("a failed query is logged by class, code and message, never with its parameters", async () => {
  await using t = await testApp();
  const err = await t.db.db.execute(sql`select ${"secret-param-4711"}::int, ${"9931"}::text`).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error);
  const lines: string[] = [];
  createLogger("info", (l) => lines.push(l)).error("unhandled error", { error: err });
  assert.doesNotMatch(lines[0], /secret-param-4711|9931/);
  const logged = JSON.parse(lines[0]).error;
  assert.match(logged.message, /^Failed query: select \$1::int/);
  assert.equal(logged.cause.code, "22P02");
});
