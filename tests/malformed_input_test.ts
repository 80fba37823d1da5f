/**
 * Malformed input is a clear 4xx that changes nothing (issue 15, items 2 and 3): text with NUL characters,
 * and a JSON route's body sent with another content type.
 */
import assert from "node:assert/strict";
import { firmwareReleases } from "../db/schema.ts";
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
