// Scheduled commands: the API, and the scheduler running each period once across two instances.
import assert from "node:assert/strict";
import { deviceSchedules } from "../db/schema.ts";
import { claimDueSchedules, DeviceScheduler } from "../src/devices/schedules.ts";
import { traccarFromConfig } from "../src/devices/traccar_client.ts";
import { bearer, imei, jsonBody, traccarApp, waitFor } from "./devices_helpers.ts";
import { startFakeTraccar } from "./fakes/traccar.ts";
import { problem, secondInstance, type TestApp } from "./helpers.ts";

const USSD = { type: "sendUssd", attributes: { phone: "*102#" } };

async function claim(t: TestApp, token: string, n: number): Promise<{ id: string; traccar_id: number }> {
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(n) }, bearer(token));
  assert.equal(res.status, 201);
  return await jsonBody(res);
}

Deno.test("POST/GET/DELETE /api/v1/devices/:id/schedules manage a device's schedules", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await claim(t, access_token, 1);
  const path = `/api/v1/devices/${device.id}/schedules`;

  const created = await t.json("POST", path, { command: USSD, every_s: 3600 }, bearer(access_token));
  assert.equal(created.status, 201);
  const schedule = await jsonBody(created);
  assert.deepEqual(schedule, {
    id: schedule.id,
    device_id: device.id,
    command: USSD,
    every_s: 3600,
    next_run_at: "2026-01-01T01:00:00.000Z",
    last_run_at: null,
    last_status: null,
    last_error: null,
    runs: 0,
    created_at: "2026-01-01T00:00:00.000Z",
  });
  const list = await t.json("GET", path, undefined, bearer(access_token));
  assert.equal(list.status, 200);
  assert.deepEqual((await jsonBody(list)).schedules, [schedule]);

  const other = await t.login();
  const foreign = await t.json("DELETE", `${path}/${schedule.id}`, undefined, bearer(other.access_token));
  assert.equal(foreign.status, 404);
  await foreign.body?.cancel();
  const removed = await t.json("DELETE", `${path}/${schedule.id}`, undefined, bearer(access_token));
  assert.equal(removed.status, 204);
  const again = await t.json("DELETE", `${path}/${schedule.id}`, undefined, bearer(access_token));
  assert.equal(again.status, 404);
  assert.equal((await problem(again)).detail, "No such schedule");
  assert.deepEqual(
    (await jsonBody(await t.json("GET", path, undefined, bearer(access_token)))).schedules,
    [],
  );
});

Deno.test("POST /api/v1/devices/:id/schedules answers 422 for a period under 60 s or a bad command", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await claim(t, access_token, 1);
  const path = `/api/v1/devices/${device.id}/schedules`;
  for (
    const [body, field] of [
      [{ command: USSD, every_s: 59 }, "every_s"],
      [{ command: USSD, every_s: 90.5 }, "every_s"],
      [{ command: USSD }, "every_s"],
      [{ command: { type: "" }, every_s: 60 }, "command.type"],
      [{ every_s: 60 }, "command"],
    ] as const
  ) {
    const res = await t.json("POST", path, body, bearer(access_token));
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(((await problem(res)).errors as { field: string }[]).map((e) => e.field), [field]);
  }
  assert.equal((await t.db.db.select().from(deviceSchedules)).length, 0);
});

Deno.test("two instances sharing one database run each due schedule once per period", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  await using other = await secondInstance(t, {
    deps: (base) => ({ traccar: traccarFromConfig(base.config) }),
  });
  const { access_token } = await t.login();
  const count = 12;
  for (let n = 1; n <= count; n++) {
    const device = await claim(t, access_token, n);
    traccar.setOnline(device.traccar_id, true);
    const every = n % 2 === 0 ? 60 : 120;
    const res = await t.json("POST", `/api/v1/devices/${device.id}/schedules`, {
      command: USSD,
      every_s: every,
    }, bearer(access_token));
    assert.equal(res.status, 201);
    await res.body?.cancel();
  }
  await using a = new DeviceScheduler(t.deps);
  await using b = new DeviceScheduler(other.deps);
  assert.deepEqual(
    (await Promise.all([a.tick(), b.tick()])).flat(),
    [],
    "nothing is due before the first period",
  );
  const perMinute: number[] = [];
  for (let minute = 1; minute <= 6; minute++) {
    t.clock.advance(60_000);
    const results = (await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()])).flat();
    perMinute.push(results.length);
    assert.equal(new Set(results.map((r) => r.schedule_id)).size, results.length, "no schedule ran twice");
    assert.ok(results.every((r) => r.status === "sent"));
  }
  // Six every 60 s run each minute; six every 120 s run every other minute.
  assert.deepEqual(perMinute, [6, 12, 6, 12, 6, 12]);
  assert.equal(traccar.commands.length, 54);
  assert.ok(
    traccar.commands.every((c) => c.command.type === "sendUssd" && c.command.attributes.phone === "*102#"),
  );
  const rows = await t.db.db.select().from(deviceSchedules);
  assert.deepEqual(rows.map((r) => r.runs).sort(), [3, 3, 3, 3, 3, 3, 6, 6, 6, 6, 6, 6]);
  assert.ok(rows.every((r) => r.lastStatus === "sent" && r.lastError === null));
});

Deno.test("missed periods are skipped, not replayed, and the schedule stays on its grid", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await claim(t, access_token, 1);
  const path = `/api/v1/devices/${device.id}/schedules`;
  (await t.json("POST", path, { command: USSD, every_s: 600 }, bearer(access_token))).body?.cancel();

  t.clock.advance(95 * 60_000); // nine periods and a half went by with no scheduler running
  const claimed = await claimDueSchedules(t.deps);
  assert.equal(claimed.length, 1);
  assert.equal(claimed[0].nextRunAt.toISOString(), "2026-01-01T01:40:00.000Z");
  assert.equal((await claimDueSchedules(t.deps)).length, 0, "a claimed period is not claimed again");
});

Deno.test("a failed send is recorded on the schedule and in the history, and the next period runs again", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await claim(t, access_token, 1);
  (await t.json(
    "POST",
    `/api/v1/devices/${device.id}/schedules`,
    { command: USSD, every_s: 60 },
    bearer(access_token),
  ))
    .body?.cancel();
  await using scheduler = new DeviceScheduler(t.deps);

  const [vanished] = traccar.devices.splice(0, 1); // the device is gone from Traccar for a while
  t.clock.advance(60_000);
  assert.deepEqual((await scheduler.tick()).map((r) => r.status), ["failed"]);
  const [row] = await t.db.db.select().from(deviceSchedules);
  assert.equal(row.lastStatus, "failed");
  assert.match(row.lastError ?? "", /Traccar answered 400/);
  const events = (await jsonBody(
    await t.json("GET", `/api/v1/devices/${device.id}/events`, undefined, bearer(access_token)),
  )).events;
  assert.equal(events[0].type, "scheduledCommand");
  assert.deepEqual(events[0].attributes, { schedule_id: row.id, command_type: "sendUssd", status: "failed" });
  assert.equal((await scheduler.tick()).length, 0, "no retry within the period");

  traccar.devices.push(vanished);
  t.clock.advance(60_000);
  assert.deepEqual((await scheduler.tick()).map((r) => r.status), ["queued"]);
  const [after] = await t.db.db.select().from(deviceSchedules);
  assert.deepEqual([after.lastStatus, after.lastError, after.runs], ["queued", null, 2]);
});

Deno.test("the scheduler started by main.ts ticks on its own timer and closes cleanly", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await claim(t, access_token, 1);
  (await t.json(
    "POST",
    `/api/v1/devices/${device.id}/schedules`,
    { command: USSD, every_s: 60 },
    bearer(access_token),
  ))
    .body?.cancel();
  t.clock.advance(60_000);
  await using scheduler = new DeviceScheduler(t.deps, { intervalMs: 20 }).start();
  await waitFor(() => traccar.commands.length === 1, "the scheduled command");
  await scheduler.close();
  assert.equal(traccar.queuedCommands.length, 1, "the device is offline, so Traccar queued it");
});
