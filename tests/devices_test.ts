// The devices API without Traccar: claims, ownership, names, attributes, history, and the 503s.
import assert from "node:assert/strict";
import { deviceEvents, devices } from "../db/schema.ts";
import { imeiCheckDigit, isValidImei } from "../src/devices/imei.ts";
import { defaultDeviceName } from "../src/devices/registry.ts";
import { ADMIN, badLuhn, bearer, imei, jsonBody } from "./devices_helpers.ts";
import { problem, testApp } from "./helpers.ts";

Deno.test("isValidImei accepts 15 digits with a Luhn check digit and nothing else", () => {
  assert.equal(isValidImei("490154203237518"), true); // the GSMA's example IMEI
  assert.equal(isValidImei("356938035643809"), true);
  assert.equal(isValidImei("490154203237519"), false);
  assert.equal(isValidImei("49015420323751"), false);
  assert.equal(isValidImei("4901542032375180"), false);
  assert.equal(isValidImei("49015420323751a"), false);
  assert.equal(isValidImei("４９０１５４２０３２３７５１８"), false); // full-width digits
  assert.equal(imeiCheckDigit("49015420323751"), "8");
});

Deno.test("defaultDeviceName counts the user's devices and skips names still in use", () => {
  assert.equal(defaultDeviceName("Vehicle {n}", []), "Vehicle 1");
  assert.equal(defaultDeviceName("Vehicle {n}", ["Vehicle 1"]), "Vehicle 2");
  assert.equal(defaultDeviceName("Vehicle {n}", ["Vehicle 2"]), "Vehicle 3");
  assert.equal(defaultDeviceName("خودرو {n}", ["x", "y"]), "خودرو 3");
  assert.equal(defaultDeviceName("Tracker", ["Tracker"]), "Tracker");
});

Deno.test("the devices API needs a Bearer token or an API key", async () => {
  await using t = await testApp();
  const res = await t.json("GET", "/api/v1/devices");
  assert.equal(res.status, 401);
  assert.equal((await problem(res)).status, 401);
});

Deno.test("POST /api/v1/devices/check answers available for a free IMEI", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices/check", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 200);
  assert.deepEqual(await jsonBody(res), { imei: imei(1), available: true });
});

Deno.test("POST /api/v1/devices/check and POST /api/v1/devices answer 422 for a bad IMEI and store nothing", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  for (const bad of [badLuhn(imei(1)), "12345", "3569380356438090", "35693803564380x", "", 356938035643809]) {
    for (const path of ["/api/v1/devices/check", "/api/v1/devices"]) {
      const res = await t.json("POST", path, { imei: bad }, bearer(access_token));
      assert.equal(res.status, 422, `${path} ${bad}`);
      const body = await problem(res);
      assert.deepEqual((body.errors as { field: string }[]).map((e) => e.field), ["imei"]);
    }
  }
  assert.equal((await t.db.db.select().from(devices)).length, 0);
});

Deno.test("POST /api/v1/devices claims with default names Vehicle 1, Vehicle 2 and answers 201", async () => {
  await using t = await testApp();
  const { access_token, user } = await t.login();
  const first = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(first.status, 201);
  const one = await jsonBody(first);
  assert.equal(one.name, "Vehicle 1");
  assert.equal(one.imei, imei(1));
  assert.equal(one.user_id, user.id);
  assert.deepEqual(one.attributes, {});
  assert.equal(one.traccar_id, null);
  const second = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(2) }, bearer(access_token)),
  );
  assert.equal(second.name, "Vehicle 2");
  const named = await t.json(
    "POST",
    "/api/v1/devices",
    { imei: imei(3), name: " Truck " },
    bearer(access_token),
  );
  assert.equal(named.status, 201);
  assert.equal((await jsonBody(named)).name, "Truck");
  // Another user starts counting at 1.
  const other = await t.login();
  const theirs = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(4) }, bearer(other.access_token)),
  );
  assert.equal(theirs.name, "Vehicle 1");
});

Deno.test("DEVICE_NAME_TEMPLATE sets the default name", async () => {
  await using t = await testApp({ config: { DEVICE_NAME_TEMPLATE: "خودرو {n}" } });
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 201);
  assert.equal((await jsonBody(res)).name, "خودرو 1");
});

Deno.test("claiming a device again answers 200 with the same device; check says it is already yours", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  const first = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const again = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(again.status, 200);
  assert.deepEqual(await jsonBody(again), first);
  const check = await t.json("POST", "/api/v1/devices/check", { imei: imei(1) }, bearer(access_token));
  assert.deepEqual(await jsonBody(check), {
    imei: imei(1),
    available: true,
    reason: "already_claimed_by_you",
  });
  assert.equal((await t.db.db.select().from(devices)).length, 1);
});

Deno.test("POST /api/v1/devices answers 409 for a device claimed by another user", async () => {
  await using t = await testApp();
  const alice = await t.login();
  const bob = await t.login();
  (await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(alice.access_token))).body?.cancel();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(bob.access_token));
  assert.equal(res.status, 409);
  const body = await problem(res);
  assert.equal(body.imei, imei(1));
  assert.match(String(body.detail), /another user/);
  const check = await t.json("POST", "/api/v1/devices/check", { imei: imei(1) }, bearer(bob.access_token));
  assert.deepEqual(await jsonBody(check), {
    imei: imei(1),
    available: false,
    reason: "claimed_by_another_user",
  });
});

Deno.test("concurrent claims of one IMEI by two users: one wins, the other gets 409", async () => {
  await using t = await testApp();
  const [alice, bob] = [await t.login(), await t.login()];
  const answers = await Promise.all(
    [alice, bob].map((u) => t.json("POST", "/api/v1/devices", { imei: imei(9) }, bearer(u.access_token))),
  );
  assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409]);
  for (const r of answers) await r.body?.cancel();
  assert.equal((await t.db.db.select().from(devices)).length, 1);
});

Deno.test("users see only their own devices; others' devices answer 404 to GET, PATCH and DELETE", async () => {
  await using t = await testApp();
  const alice = await t.login();
  const bob = await t.login();
  const mine = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(alice.access_token)),
  );
  (await t.json("POST", "/api/v1/devices", { imei: imei(2) }, bearer(bob.access_token))).body?.cancel();

  const list = await t.json("GET", "/api/v1/devices", undefined, bearer(bob.access_token));
  assert.equal(list.status, 200);
  assert.deepEqual((await jsonBody(list)).devices.map((d: { imei: string }) => d.imei), [imei(2)]);

  for (const [method, body] of [["GET"], ["PATCH", { name: "Mine now" }], ["DELETE"]] as const) {
    const res = await t.json(method, `/api/v1/devices/${mine.id}`, body, bearer(bob.access_token));
    assert.equal(res.status, 404, method);
    assert.equal((await problem(res)).status, 404);
  }
  for (const path of [`/api/v1/devices/${mine.id}/events`, `/api/v1/devices/${mine.id}/schedules`]) {
    const res = await t.json("GET", path, undefined, bearer(bob.access_token));
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
  const unchanged = await jsonBody(
    await t.json("GET", `/api/v1/devices/${mine.id}`, undefined, bearer(alice.access_token)),
  );
  assert.equal(unchanged.name, "Vehicle 1");
  const notUuid = await t.json("GET", "/api/v1/devices/not-a-uuid", undefined, bearer(alice.access_token));
  assert.equal(notUuid.status, 404);
  await notUuid.body?.cancel();
});

Deno.test("admins (API key) list and read every device, and claim for a user with user_id", async () => {
  await using t = await testApp();
  const alice = await t.login();
  const bob = await t.login();
  (await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(alice.access_token))).body?.cancel();
  const noUser = await t.json("POST", "/api/v1/devices", { imei: imei(2) }, ADMIN);
  assert.equal(noUser.status, 422);
  assert.deepEqual(((await problem(noUser)).errors as { field: string }[]).map((e) => e.field), ["user_id"]);
  const claimed = await t.json("POST", "/api/v1/devices", { imei: imei(2), user_id: bob.user.id }, ADMIN);
  assert.equal(claimed.status, 201);
  const device = await jsonBody(claimed);
  assert.equal(device.user_id, bob.user.id);
  const all = await jsonBody(await t.json("GET", "/api/v1/devices", undefined, ADMIN));
  assert.deepEqual(all.devices.map((d: { imei: string }) => d.imei), [imei(1), imei(2)]);
  const check = await t.json("POST", "/api/v1/devices/check", { imei: imei(2) }, ADMIN);
  assert.deepEqual(await jsonBody(check), { imei: imei(2), available: false, reason: "claimed" });
  const one = await t.json("GET", `/api/v1/devices/${device.id}`, undefined, ADMIN);
  assert.equal(one.status, 200);
  assert.equal((await jsonBody(one)).id, device.id);
  // A user may not claim for someone else.
  const sneaky = await t.json(
    "POST",
    "/api/v1/devices",
    { imei: imei(3), user_id: bob.user.id },
    bearer(alice.access_token),
  );
  assert.equal(sneaky.status, 403);
  await sneaky.body?.cancel();
});

Deno.test("PATCH /api/v1/devices/:id renames and merges attributes; null removes one; sim_* are refused", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const path = `/api/v1/devices/${device.id}`;
  const first = await t.json("PATCH", path, {
    name: "Blue van",
    attributes: { plate: "ABC-123", speedLimit: 80 },
  }, bearer(access_token));
  assert.equal(first.status, 200);
  const a = await jsonBody(first);
  assert.equal(a.name, "Blue van");
  assert.deepEqual(a.attributes, { plate: "ABC-123", speedLimit: 80 });
  const second = await jsonBody(
    await t.json("PATCH", path, { attributes: { speedLimit: null, color: "blue" } }, bearer(access_token)),
  );
  assert.equal(second.name, "Blue van");
  assert.deepEqual(second.attributes, { plate: "ABC-123", color: "blue" });

  const sim = await t.json("PATCH", path, { attributes: { sim_balance: 1000 } }, bearer(access_token));
  assert.equal(sim.status, 422);
  assert.deepEqual(((await problem(sim)).errors as { field: string }[]).map((e) => e.field), [
    "attributes.sim_balance",
  ]);
  const empty = await t.json("PATCH", path, {}, bearer(access_token));
  assert.equal(empty.status, 422);
  await empty.body?.cancel();
  const blank = await t.json("PATCH", path, { name: "  " }, bearer(access_token));
  assert.equal(blank.status, 422);
  await blank.body?.cancel();
  const stored = await jsonBody(await t.json("GET", path, undefined, bearer(access_token)));
  assert.deepEqual(stored.attributes, { plate: "ABC-123", color: "blue" });
});

Deno.test("DELETE /api/v1/devices/:id releases the device: 204, gone, claimable by another user", async () => {
  await using t = await testApp();
  const alice = await t.login();
  const bob = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(alice.access_token)),
  );
  const res = await t.json("DELETE", `/api/v1/devices/${device.id}`, undefined, bearer(alice.access_token));
  assert.equal(res.status, 204);
  const gone = await t.json("GET", `/api/v1/devices/${device.id}`, undefined, bearer(alice.access_token));
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
  const claimed = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(bob.access_token));
  assert.equal(claimed.status, 201);
  await claimed.body?.cancel();
});

Deno.test("commands and schedules answer 503 with a clear problem when Traccar is not configured", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const command = await t.json("POST", `/api/v1/devices/${device.id}/commands`, {
    type: "custom",
    attributes: { data: "X" },
  }, bearer(access_token));
  assert.equal(command.status, 503);
  const body = await problem(command);
  assert.equal(body.title, "Service Unavailable");
  assert.match(String(body.detail), /Traccar.*not configured.*TRACCAR_URL/);
  const schedule = await t.json(
    "POST",
    `/api/v1/devices/${device.id}/schedules`,
    { command: { type: "sendUssd", attributes: { phone: "*102#" } }, every_s: 3600 },
    bearer(access_token),
  );
  assert.equal(schedule.status, 503);
  assert.match(String((await problem(schedule)).detail), /not configured/);
});

Deno.test("GET/POST /qussd.php stores the SIM balance; a failure is recorded and keeps the last good balance", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const data = encodeURIComponent("Ваш баланс 150.25 руб.");
  const ok = await t.app.request(`/qussd.php?imei=${imei(1)}&data=${data}`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await jsonBody(ok), {
    imei: imei(1),
    device_id: device.id,
    ok: true,
    balance: 150.25,
    currency: "RUB",
  });
  const afterOk = await jsonBody(
    await t.json("GET", `/api/v1/devices/${device.id}`, undefined, bearer(access_token)),
  );
  assert.deepEqual(afterOk.attributes, {
    sim_balance: 150.25,
    sim_currency: "RUB",
    sim_balance_at: "2026-01-01T00:00:00.000Z",
  });

  t.clock.advance(60_000);
  const failed = await t.app.request("/qussd.php", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ imei: imei(1), data: "ussd timeout" }),
  });
  assert.equal(failed.status, 200);
  assert.deepEqual(await jsonBody(failed), {
    imei: imei(1),
    device_id: device.id,
    ok: false,
    reason: "timeout",
  });
  const afterFailure = await jsonBody(
    await t.json("GET", `/api/v1/devices/${device.id}`, undefined, bearer(access_token)),
  );
  assert.deepEqual(afterFailure.attributes, afterOk.attributes, "the last good balance stays");

  const history = await jsonBody(
    await t.json("GET", `/api/v1/devices/${device.id}/events`, undefined, bearer(access_token)),
  );
  assert.deepEqual(history.events.map((e: { type: string; attributes: unknown }) => [e.type, e.attributes]), [
    ["ussd", { source: "qussd", text: "ussd timeout", ok: false, reason: "timeout" }],
    ["ussd", { source: "qussd", text: "Ваш баланс 150.25 руб.", ok: true, balance: 150.25, currency: "RUB" }],
  ]);
  assert.equal(history.events[0].at, "2026-01-01T00:01:00.000Z");

  // A POST may also carry the fields in the query; a modem's raw +CUSD line is unwrapped.
  const cusd = encodeURIComponent('+CUSD: 0,"Balance: 7.50 EUR",15');
  const raw = await t.app.request(`/qussd.php?imei=${imei(1)}&data=${cusd}`, { method: "POST" });
  assert.equal(raw.status, 200);
  assert.equal((await jsonBody(raw)).balance, 7.5);
});

Deno.test("POST /qussd.php takes a form field over the same field in the query (readLegacyFields' rule)", async () => {
  await using t = await testApp();
  const { access_token } = await t.login();
  (await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token))).body?.cancel();
  const res = await t.app.request(`/qussd.php?imei=${imei(1)}&data=${encodeURIComponent("Balance: 1 EUR")}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ data: "Balance: 9.25 EUR" }),
  });
  assert.equal(res.status, 200);
  assert.equal((await jsonBody(res)).balance, 9.25);
});

Deno.test("/qussd.php answers 404 for an unknown IMEI and 422 for missing or malformed fields", async () => {
  await using t = await testApp();
  const unknown = await t.app.request(`/qussd.php?imei=${imei(5)}&data=Balance%201%20EUR`);
  assert.equal(unknown.status, 404);
  assert.equal((await problem(unknown)).status, 404);
  const missing = await t.app.request(`/qussd.php?imei=${imei(5)}`);
  assert.equal(missing.status, 422);
  assert.deepEqual(((await problem(missing)).errors as { field: string }[]).map((e) => e.field), ["data"]);
  const malformed = await t.app.request(`/qussd.php?imei=123&data=x`);
  assert.equal(malformed.status, 422);
  await malformed.body?.cancel();
  assert.equal((await t.db.db.select().from(deviceEvents)).length, 0);
});

Deno.test("the event history keeps only the newest DEVICE_EVENT_HISTORY entries, newest first", async () => {
  await using t = await testApp({ config: { DEVICE_EVENT_HISTORY: "3" } });
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  for (let i = 1; i <= 5; i++) {
    const res = await t.app.request(
      `/qussd.php?imei=${imei(1)}&data=${encodeURIComponent(`Balance: ${i} EUR`)}`,
    );
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const history = await jsonBody(
    await t.json("GET", `/api/v1/devices/${device.id}/events`, undefined, bearer(access_token)),
  );
  assert.deepEqual(history.events.map((e: { attributes: { balance: number } }) => e.attributes.balance), [
    5,
    4,
    3,
  ]);
  assert.equal((await t.db.db.select().from(deviceEvents)).length, 3);
});

Deno.test("legacy POST /api/device claims for the user named by phone (national or E.164) or id, dp is the name", async () => {
  await using t = await testApp({ config: { DEFAULT_REGION: "HU" } });
  const { user } = await t.login("+36201234567");
  const res = await t.json("POST", "/api/device", {
    client_secret: "legacy-secret",
    user: "06 20 123 4567",
    imei: imei(1),
    dp: "Opel Astra",
  });
  assert.equal(res.status, 201);
  const device = await jsonBody(res);
  assert.deepEqual([device.user_id, device.name, device.imei], [user.id, "Opel Astra", imei(1)]);
  const again = await t.json("POST", "/api/device", {
    client_secret: "legacy-secret",
    user: user.id,
    imei: imei(1),
  });
  assert.equal(again.status, 200);
  assert.equal((await jsonBody(again)).id, device.id);
  const noName = await t.json("POST", "/api/device", {
    client_secret: "legacy-secret",
    user: "+36201234567",
    imei: imei(2),
    dp: "",
  });
  assert.equal((await jsonBody(noName)).name, "Vehicle 2");
});

Deno.test("legacy POST /api/checkDeviceInfo answers like /api/v1/devices/check for that user", async () => {
  await using t = await testApp();
  const alice = await t.login("+36201234567");
  await t.login("+36201234568");
  (await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(alice.access_token))).body?.cancel();
  const ask = (user: string, n: number) =>
    t.json("POST", "/api/checkDeviceInfo", { client_secret: "legacy-secret", user, imei: imei(n) });
  assert.deepEqual(await jsonBody(await ask("+36201234567", 1)), {
    imei: imei(1),
    available: true,
    reason: "already_claimed_by_you",
  });
  assert.deepEqual(await jsonBody(await ask("+36201234568", 1)), {
    imei: imei(1),
    available: false,
    reason: "claimed_by_another_user",
  });
  assert.deepEqual(await jsonBody(await ask("+36201234568", 2)), { imei: imei(2), available: true });
});

Deno.test("legacy device routes: 401 for a wrong client_secret, 404 for an unknown user, 422 for a bad IMEI or user", async () => {
  await using t = await testApp();
  await t.login("+36201234567");
  const base = { client_secret: "legacy-secret", user: "+36201234567", imei: imei(1) };
  for (const path of ["/api/device", "/api/checkDeviceInfo"]) {
    const secret = await t.json("POST", path, { ...base, client_secret: "wrong" });
    assert.equal(secret.status, 401, path);
    assert.equal((await problem(secret)).detail, "Invalid client_secret");
    const unknown = await t.json("POST", path, { ...base, user: "+36209999999" });
    assert.equal(unknown.status, 404, path);
    assert.match(String((await problem(unknown)).detail), /No such user/);
    const unknownId = await t.json("POST", path, { ...base, user: crypto.randomUUID() });
    assert.equal(unknownId.status, 404, path);
    await unknownId.body?.cancel();
    const badImei = await t.json("POST", path, { ...base, imei: badLuhn(imei(1)) });
    assert.equal(badImei.status, 422, path);
    assert.deepEqual(((await problem(badImei)).errors as { field: string }[]).map((e) => e.field), ["imei"]);
    const badUser = await t.json("POST", path, { ...base, user: "somebody" });
    assert.equal(badUser.status, 422, path);
    assert.deepEqual(((await problem(badUser)).errors as { field: string }[]).map((e) => e.field), ["user"]);
  }
  assert.equal((await t.db.db.select().from(devices)).length, 0);
});
