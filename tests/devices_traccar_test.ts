// Devices with Traccar (a local fake that speaks Traccar's REST API): claim sync, renames, commands.
import assert from "node:assert/strict";
import { devices, traccarUsers } from "../db/schema.ts";
import { TraccarClient } from "../src/devices/traccar_client.ts";
import { ADMIN, bearer, imei, jsonBody, traccarApp } from "./devices_helpers.ts";
import { startFakeTraccar } from "./fakes/traccar.ts";
import { problem, testApp } from "./helpers.ts";

Deno.test("claiming with Traccar creates the device (uniqueId = IMEI), a Traccar user, and links them", async () => {
  await using traccar = await startFakeTraccar();
  await using t = await traccarApp(traccar);
  const { access_token, user } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 201);
  const device = await jsonBody(res);

  assert.equal(traccar.devices.length, 1);
  const remote = traccar.devices[0];
  assert.deepEqual([remote.uniqueId, remote.name], [imei(1), "Vehicle 1"]);
  assert.equal(device.traccar_id, remote.id);
  const owner = traccar.users.find((u) => u.email === `${user.id}@users.gatehouse.invalid`);
  assert.ok(owner, "a Traccar user is made for the gatehouse user");
  assert.deepEqual([owner.name, owner.phone, owner.administrator], [user.phone, user.phone, false]);
  const link = traccar.requests.find((r) => r.method === "POST" && r.path === "/api/permissions");
  assert.deepEqual(link?.body, { userId: owner.id, deviceId: remote.id });
  assert.ok(traccar.permissions.some((p) => p.userId === owner.id && p.deviceId === remote.id));
  assert.ok(traccar.requests.every((r) => r.auth === "bearer" || r.path === "/api/session"));

  // A second device of the same user reuses the Traccar user.
  const second = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(2) }, bearer(access_token)),
  );
  assert.equal(traccar.users.filter((u) => u.email.endsWith("@users.gatehouse.invalid")).length, 1);
  assert.ok(traccar.permissions.some((p) => p.userId === owner.id && p.deviceId === second.traccar_id));
  assert.equal(traccar.requests.filter((r) => r.method === "POST" && r.path === "/api/users").length, 1);
});

Deno.test("claiming a device Traccar already knows renames it instead of creating another", async () => {
  await using traccar = await startFakeTraccar();
  // One the admin made, and one only another Traccar user can see.
  const known = traccar.addDevice({ name: "GT06 8812", uniqueId: imei(1), attributes: { speedLimit: 90 } });
  const stranger = traccar.addUser({ email: "fleet@example.com", password: "x" });
  const hidden = traccar.addDevice({ name: "unnamed", uniqueId: imei(2) }, stranger.id);
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();

  const first = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  assert.equal(first.traccar_id, known.id);
  assert.equal(known.name, "Vehicle 1");
  assert.deepEqual(known.attributes, { speedLimit: 90 }, "Traccar's own attributes are kept");
  const put = traccar.requests.find((r) => r.method === "PUT" && r.path === `/api/devices/${known.id}`);
  assert.equal((put?.body as { name: string }).name, "Vehicle 1");

  const second = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(2) }, bearer(access_token)),
  );
  assert.equal(second.traccar_id, hidden.id);
  assert.equal(hidden.name, "Vehicle 2");
  assert.ok(
    traccar.permissions.some((p) => p.userId === 1 && p.deviceId === hidden.id),
    "our admin is linked",
  );
  assert.equal(traccar.devices.length, 2);
  assert.equal(traccar.requests.filter((r) => r.method === "POST" && r.path === "/api/devices").length, 0);
});

Deno.test("a Traccar failure during a claim answers 502 and leaves nothing locally; a retry completes it", async () => {
  await using traccar = await startFakeTraccar();
  let failLink = true;
  const flaky: typeof fetch = (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (failLink && init?.method === "POST" && url.endsWith("/api/permissions")) {
      failLink = false;
      return Promise.reject(new TypeError("connection reset"));
    }
    return fetch(input, init);
  };
  await using t = await testApp({
    config: { TRACCAR_URL: traccar.url, TRACCAR_TOKEN: "tok" },
    deps: () => ({ traccar: new TraccarClient({ url: traccar.url, auth: { token: "tok" }, fetch: flaky }) }),
  });
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 502);
  const body = await problem(res);
  assert.equal(body.title, "Bad Gateway");
  assert.match(
    String(body.detail),
    /Cannot claim the device: Cannot reach Traccar \(POST \/api\/permissions\)/,
  );
  assert.equal((await t.db.db.select().from(devices)).length, 0, "no local device after a failed claim");
  const check = await jsonBody(
    await t.json("POST", "/api/v1/devices/check", { imei: imei(1) }, bearer(access_token)),
  );
  assert.equal(check.available, true);
  assert.equal(traccar.devices.length, 1, "Traccar got as far as creating the device");

  const retry = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(retry.status, 201);
  const device = await jsonBody(retry);
  assert.equal(traccar.devices.length, 1, "the retry reuses the device instead of making another");
  assert.equal(device.traccar_id, traccar.devices[0].id);
  const [owner] = await t.db.db.select().from(traccarUsers);
  assert.ok(
    traccar.permissions.some((p) => p.userId === owner.traccarUserId && p.deviceId === device.traccar_id),
  );
});

Deno.test("an unreachable Traccar answers 502 on claim with nothing stored", async () => {
  const down = await startFakeTraccar();
  const url = down.url;
  await down.close();
  await using t = await testApp({
    config: { TRACCAR_URL: url, TRACCAR_TOKEN: "tok", TRACCAR_TIMEOUT_MS: "2000" },
    deps: () => ({ traccar: new TraccarClient({ url, auth: { token: "tok" }, timeoutMs: 2000 }) }),
  });
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 502);
  assert.match(String((await problem(res)).detail), /Cannot reach Traccar/);
  assert.equal((await t.db.db.select().from(devices)).length, 0);
});

Deno.test("renames and attributes follow to Traccar; a Traccar refusal changes nothing locally", async () => {
  await using traccar = await startFakeTraccar();
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const path = `/api/v1/devices/${device.id}`;
  const res = await t.json("PATCH", path, {
    name: "Blue van",
    attributes: { plate: "ABC-123", speedLimit: 80 },
  }, bearer(access_token));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const remote = traccar.devices[0];
  assert.equal(remote.name, "Blue van");
  assert.deepEqual(remote.attributes, { plate: "ABC-123", speedLimit: 80 });
  (await t.json("PATCH", path, { attributes: { speedLimit: null } }, bearer(access_token))).body?.cancel();
  assert.deepEqual(traccar.devices[0].attributes, { plate: "ABC-123" });

  // Someone deletes the device in Traccar: the update fails upstream and stays undone here.
  traccar.devices.splice(0, 1);
  const refused = await t.json("PATCH", path, { name: "Red van" }, bearer(access_token));
  assert.equal(refused.status, 502);
  assert.match(String((await problem(refused)).detail), /Cannot update the device: Traccar answered/);
  const local = await jsonBody(await t.json("GET", path, undefined, bearer(access_token)));
  assert.equal(local.name, "Blue van");
});

Deno.test("DELETE /api/v1/devices/:id unlinks the owner in Traccar and keeps the Traccar device", async () => {
  await using traccar = await startFakeTraccar();
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const [owner] = await t.db.db.select().from(traccarUsers);
  const res = await t.json("DELETE", `/api/v1/devices/${device.id}`, undefined, bearer(access_token));
  assert.equal(res.status, 204);
  assert.equal(traccar.devices.length, 1);
  assert.ok(
    !traccar.permissions.some((p) => p.userId === owner.traccarUserId && p.deviceId === device.traccar_id),
  );
  assert.ok(traccar.permissions.some((p) => p.userId === 1 && p.deviceId === device.traccar_id));
});

Deno.test("POST /api/v1/devices/:id/commands answers 202 queued while offline and 200 sent once online", async () => {
  await using traccar = await startFakeTraccar();
  await using t = await traccarApp(traccar);
  const { access_token } = await t.login();
  const device = await jsonBody(
    await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token)),
  );
  const path = `/api/v1/devices/${device.id}/commands`;

  const queued = await t.json(
    "POST",
    path,
    { type: "positionPeriodic", attributes: { frequency: 60 } },
    bearer(access_token),
  );
  assert.equal(queued.status, 202);
  assert.deepEqual(await jsonBody(queued), { status: "queued" });
  assert.equal(traccar.queuedCommands.length, 1);

  traccar.setOnline(device.traccar_id, true);
  const sent = await t.json(
    "POST",
    path,
    { type: "custom", attributes: { data: "STATUS#" } },
    bearer(access_token),
  );
  assert.equal(sent.status, 200);
  assert.deepEqual(await jsonBody(sent), { status: "sent" });
  assert.deepEqual(
    traccar.commands.map((c) => [c.command.deviceId, c.command.type, c.command.attributes, c.queued]),
    [
      [device.traccar_id, "positionPeriodic", { frequency: 60 }, true],
      [device.traccar_id, "custom", { data: "STATUS#" }, false],
    ],
  );
  const send = traccar.requests.find((r) => r.path === "/api/commands/send");
  assert.deepEqual(send?.body, {
    deviceId: device.traccar_id,
    type: "positionPeriodic",
    attributes: { frequency: 60 },
  });

  const bad = await t.json("POST", path, { type: "custom; drop", attributes: {} }, bearer(access_token));
  assert.equal(bad.status, 422);
  await bad.body?.cancel();
  const other = await t.login();
  const foreign = await t.json("POST", path, { type: "custom" }, bearer(other.access_token));
  assert.equal(foreign.status, 404);
  await foreign.body?.cancel();
  const admin = await t.json("POST", path, { type: "rebootDevice" }, ADMIN);
  assert.equal(admin.status, 200);
  await admin.body?.cancel();
  assert.equal(traccar.commands.length, 3);
});

Deno.test("TraccarClient logs in with the form (TRACCAR_USER/PASSWORD) and uses Basic auth for REST", async () => {
  await using traccar = await startFakeTraccar();
  await using t = await traccarApp(traccar, {
    TRACCAR_TOKEN: "",
    TRACCAR_USER: "admin@example.com",
    TRACCAR_PASSWORD: "admin",
  });
  const session = await t.deps.traccar!.openSession();
  assert.match(session.cookie, /^JSESSIONID=node0\w+\.node0$/);
  assert.equal(session.user.id, 1);
  assert.deepEqual(traccar.requests[0].body, { email: "admin@example.com", password: "admin" });
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(1) }, bearer(access_token));
  assert.equal(res.status, 201);
  await res.body?.cancel();
  assert.ok(traccar.requests.filter((r) => r.path !== "/api/session").every((r) => r.auth === "basic"));
});
