// The Traccar event listener against the fake Traccar's /api/socket: initialisation, USSD replies,
// history, several instances, and reconnecting.
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { devices } from "../db/schema.ts";
import { TraccarEventDispatcher } from "../src/devices/dispatch.ts";
import { backoffDelay, startTraccarListener, TraccarListener } from "../src/devices/listener.ts";
import { TraccarClient, traccarFromConfig } from "../src/devices/traccar_client.ts";
import { bearer, imei, jsonBody, traccarApp, waitFor } from "./devices_helpers.ts";
import { startFakeTraccar } from "./fakes/traccar.ts";
import { secondInstance, type TestApp, testApp } from "./helpers.ts";

const INIT = "SERVER,1,gps.example.com,5023,0#";

async function claim(t: TestApp, n = 1): Promise<{ id: string; traccar_id: number; token: string }> {
  const { access_token } = await t.login();
  const res = await t.json("POST", "/api/v1/devices", { imei: imei(n) }, bearer(access_token));
  assert.equal(res.status, 201);
  return { ...(await jsonBody(res)), token: access_token };
}

async function history(t: TestApp, device: { id: string; token: string }) {
  const res = await t.json("GET", `/api/v1/devices/${device.id}/events`, undefined, bearer(device.token));
  assert.equal(res.status, 200);
  return (await jsonBody(res)).events as Array<
    { type: string; traccar_event_id: number | null; attributes: Record<string, unknown> }
  >;
}

async function row(t: TestApp, id: string) {
  const [found] = await t.db.db.select().from(devices).where(eq(devices.id, id));
  return found;
}

Deno.test("backoffDelay grows exponentially with jitter and is capped", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 500);
  assert.equal(backoffDelay(0, { random: () => 1 }), 1000);
  assert.equal(backoffDelay(3, { random: () => 0 }), 4000);
  assert.equal(backoffDelay(3, { random: () => 1 }), 8000);
  assert.equal(backoffDelay(20, { random: () => 1 }), 60_000);
  assert.equal(backoffDelay(1000, { random: () => 0, maxMs: 5000 }), 2500);
  for (let attempt = 0; attempt < 10; attempt++) {
    const d = backoffDelay(attempt);
    const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
    assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`);
  }
});

Deno.test("the listener logs in, opens /api/socket with the session cookie only, and sets up web notification rules", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar, { TRACCAR_EVENT_TYPES: "deviceOnline,commandResult" });
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");
  const socket = traccar.requests.find((r) => r.path === "/api/socket");
  assert.deepEqual([socket?.auth, socket?.search, socket?.status], ["cookie", "", 101]);
  const login = traccar.requests.find((r) => r.path === "/api/session");
  assert.deepEqual([login?.method, login?.search], ["GET", "?token=tok"]);
  assert.deepEqual(
    traccar.notifications.map((n) => [n.type, n.always, n.notificators]),
    [["deviceOnline", true, "web"], ["commandResult", true, "web"]],
  );
});

Deno.test("deviceOnline sends DEVICE_INIT_COMMAND once per device and records the event", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar, { DEVICE_INIT_COMMAND: INIT });
  const device = await claim(t);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");

  traccar.setOnline(device.traccar_id, true);
  await waitFor(() => traccar.commands.length === 1, "the initialisation command");
  assert.deepEqual(
    [traccar.commands[0].command.type, traccar.commands[0].command.attributes, traccar.commands[0].queued],
    ["custom", { data: INIT }, false],
  );
  await waitFor(
    async () => (await history(t, device)).some((e) => e.type === "initialised"),
    "the history entry",
  );
  assert.ok((await row(t, device.id)).initialisedAt, "initialised_at is stored");
  assert.ok((await row(t, device.id)).firstOnlineAt, "first_online_at is stored");

  // Offline, online again: recorded, but no second initialisation.
  traccar.setOnline(device.traccar_id, false);
  traccar.setOnline(device.traccar_id, true);
  await waitFor(
    async () => (await history(t, device)).filter((e) => e.type === "deviceOnline").length === 2,
    "two deviceOnline",
  );
  assert.equal(traccar.commands.length, 1);
  const types = (await history(t, device)).map((e) => e.type);
  assert.deepEqual(types, ["deviceOnline", "deviceOffline", "initialised", "deviceOnline"]);
  const online = (await history(t, device)).find((e) => e.type === "deviceOnline")!;
  assert.equal(typeof online.traccar_event_id, "number");
  assert.equal(online.attributes.message, undefined, "the web notificator's display text is dropped");
});

Deno.test("two instances with listeners on one database record each event once and initialise once", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar, { DEVICE_INIT_COMMAND: INIT });
  await using other = await secondInstance(t, {
    deps: (base) => ({ traccar: traccarFromConfig(base.config) }),
  });
  const device = await claim(t);
  const a = startTraccarListener(t.deps, { backoff: () => 10 })!;
  const b = startTraccarListener(other.deps, { backoff: () => 10 })!;
  try {
    await waitFor(() => a.connected && b.connected, "both sockets to open");
    assert.equal(traccar.socketCount, 2);
    traccar.setOnline(device.traccar_id, true);
    await waitFor(() => traccar.commands.length >= 1, "the initialisation command");
    await waitFor(
      async () => (await history(t, device)).some((e) => e.type === "initialised"),
      "initialised",
    );
  } finally {
    await a.close();
    await b.close(); // both have handled the event once these return
  }
  assert.equal(traccar.commands.length, 1);
  assert.deepEqual((await history(t, device)).map((e) => e.type), ["initialised", "deviceOnline"]);
});

Deno.test("a USSD reply in a commandResult event sets the SIM balance, here and in Traccar", async () => {
  await using traccar = await startFakeTraccar({
    keepaliveMs: 0,
    autoReply: (command) => command.type === "sendUssd" ? "Ваш баланс 150.25 руб." : undefined,
  });
  await using t = await traccarApp(traccar);
  const device = await claim(t);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");
  traccar.setOnline(device.traccar_id, true);

  const res = await t.json(
    "POST",
    `/api/v1/devices/${device.id}/commands`,
    { type: "sendUssd", attributes: { phone: "*100#" } },
    bearer(device.token),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await waitFor(async () => (await row(t, device.id)).attributes.sim_balance !== undefined, "the balance");
  const stored = (await row(t, device.id)).attributes;
  assert.equal(stored.sim_balance, 150.25);
  assert.equal(stored.sim_currency, "RUB");
  assert.match(String(stored.sim_balance_at), /^\d{4}-\d\d-\d\dT/);
  await waitFor(() => traccar.devices[0].attributes.sim_balance === 150.25, "the balance in Traccar");
  assert.equal(traccar.devices[0].attributes.sim_currency, "RUB");
  const result = (await history(t, device)).find((e) => e.type === "commandResult")!;
  assert.equal(result.attributes.result, "Ваш баланс 150.25 руб.");
  assert.deepEqual(result.attributes.ussd, { ok: true, balance: 150.25, currency: "RUB" });
});

Deno.test("a commandResult without the text reads it from the position's result attribute", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const device = await claim(t);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");

  // A decoder that stores the reply only on the position, and an event that points at it.
  const position = traccar.emitPosition({ deviceId: device.traccar_id, attributes: {} });
  position.attributes.result = "Egyenleg: 2 345 Ft";
  traccar.emitEvent({ type: "commandResult", deviceId: device.traccar_id, positionId: position.id });
  await waitFor(async () => (await row(t, device.id)).attributes.sim_balance !== undefined, "the balance");
  assert.equal((await row(t, device.id)).attributes.sim_balance, 2345);
  assert.equal((await row(t, device.id)).attributes.sim_currency, "HUF");
  assert.ok(traccar.requests.some((r) => r.path === "/api/positions" && r.search === `?id=${position.id}`));
});

Deno.test("a USSD failure reply is recorded and the last good balance is kept", async () => {
  const replies = ["Balance: 12.50 EUR", "ussd timeout", "OK"];
  await using traccar = await startFakeTraccar({ keepaliveMs: 0, autoReply: () => replies.shift() });
  await using t = await traccarApp(traccar);
  const device = await claim(t);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");
  traccar.setOnline(device.traccar_id, true);
  for (let i = 0; i < 3; i++) {
    const res = await t.json("POST", `/api/v1/devices/${device.id}/commands`, {
      type: "sendUssd",
      attributes: { phone: "*102#" },
    }, bearer(device.token));
    await res.body?.cancel();
    await waitFor(
      async () => (await history(t, device)).filter((e) => e.type === "commandResult").length === i + 1,
      `reply ${i + 1}`,
    );
  }
  const results = (await history(t, device)).filter((e) => e.type === "commandResult").reverse();
  assert.deepEqual(results.map((e) => [e.attributes.result, e.attributes.ussd]), [
    ["Balance: 12.50 EUR", { ok: true, balance: 12.5, currency: "EUR" }],
    ["ussd timeout", { ok: false, reason: "timeout" }],
    ["OK", undefined], // not a USSD reply at all
  ]);
  assert.equal((await row(t, device.id)).attributes.sim_balance, 12.5);
});

Deno.test("the dispatcher uses a pushed position's result without asking Traccar, and ignores unclaimed devices", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  const device = await claim(t);
  const stray = traccar.addDevice({ name: "not ours", uniqueId: imei(99) });
  const dispatcher = new TraccarEventDispatcher(t.deps);
  await dispatcher.handleMessage({
    positions: [{ id: 501, deviceId: device.traccar_id, attributes: { result: "Balance: 3.20 GBP" } }],
  });
  await dispatcher.handleMessage({
    events: [{ id: 77, type: "commandResult", deviceId: device.traccar_id, positionId: 501, attributes: {} }],
  });
  assert.equal((await row(t, device.id)).attributes.sim_balance, 3.2);
  assert.ok(!traccar.requests.some((r) => r.path === "/api/positions"), "no REST call was needed");
  // The same event again (another listener, a replay) is not recorded twice.
  await dispatcher.handleMessage({
    events: [{ id: 77, type: "commandResult", deviceId: device.traccar_id, positionId: 501 }],
  });
  assert.equal((await history(t, device)).length, 1);
  // Server-wide events (no device) are ignored without a lookup.
  await dispatcher.handleMessage({ events: [{ id: 80, type: "deviceUnknown", deviceId: 0 }] });
  assert.ok(!traccar.requests.some((r) => r.path === "/api/devices/0"));
  // An unclaimed device's events are looked up once, then skipped for a while.
  await dispatcher.handleMessage({ events: [{ id: 78, type: "deviceOnline", deviceId: stray.id }] });
  await dispatcher.handleMessage({ events: [{ id: 79, type: "deviceOnline", deviceId: stray.id }] });
  assert.equal(traccar.requests.filter((r) => r.path === `/api/devices/${stray.id}`).length, 1);
});

Deno.test("the listener reconnects after Traccar drops the socket, with a new session, and keeps dispatching", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar, { DEVICE_INIT_COMMAND: INIT });
  const device = await claim(t);
  const delays: number[] = [];
  await using listener = startTraccarListener(t.deps, {
    backoff: (attempt) => {
      delays.push(attempt);
      return 20;
    },
  })!;
  await waitFor(() => listener.connected, "the socket to open");
  traccar.expireSessions(); // a restarted Traccar: the old cookie is worthless
  traccar.dropSockets();
  await waitFor(() => !listener.connected, "the drop to be noticed");
  await waitFor(() => listener.connected && listener.connections === 2, "the reconnect");
  assert.deepEqual(delays, [0]);
  assert.equal(traccar.requests.filter((r) => r.path === "/api/session").length, 2);
  assert.equal(traccar.socketCount, 1);

  traccar.setOnline(device.traccar_id, true);
  await waitFor(() => traccar.commands.length === 1, "the initialisation command after the reconnect");
});

Deno.test("the listener backs off while Traccar refuses, and resets the backoff once connected", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  let refusals = 2;
  const client = new TraccarClient({
    url: traccar.url,
    auth: { token: "tok" },
    fetch: (input, init) => {
      if (String(input).includes("/api/session") && refusals-- > 0) {
        return Promise.resolve(new Response("HTTP 503 Service Unavailable", { status: 503 }));
      }
      return fetch(input, init);
    },
  });
  const attempts: number[] = [];
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  await using listener = new TraccarListener({
    client,
    log,
    onMessage: () => {},
    backoff: (attempt) => {
      attempts.push(attempt);
      return 10;
    },
  }).start();
  await waitFor(() => listener.connected, "the socket to open");
  assert.deepEqual(attempts, [0, 1]);
  traccar.dropSockets();
  await waitFor(() => listener.connections === 2, "the reconnect");
  assert.deepEqual(attempts, [0, 1, 0]);
});

Deno.test("a silent socket (no keepalive) is abandoned after idleTimeoutMs and reopened", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0 });
  await using t = await traccarApp(traccar);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10, idleTimeoutMs: 150 })!;
  await waitFor(() => listener.connections >= 2, "a reconnect after silence");
  await listener.close();
  assert.equal(listener.connected, false);
  await waitFor(() => traccar.socketCount === 0, "the server to see the socket close");
});

Deno.test("TRACCAR_EVENT_TYPES=none leaves Traccar's notification rules alone", async () => {
  await using traccar = await startFakeTraccar({ keepaliveMs: 0, notifications: [{ type: "deviceOnline" }] });
  await using t = await traccarApp(traccar, { TRACCAR_EVENT_TYPES: "none" });
  assert.deepEqual(t.deps.config.TRACCAR_EVENT_TYPES, []);
  await using listener = startTraccarListener(t.deps, { backoff: () => 10 })!;
  await waitFor(() => listener.connected, "the socket to open");
  assert.equal(traccar.notifications.length, 1);
  assert.ok(!traccar.requests.some((r) => r.path === "/api/notifications"));
});

Deno.test("while Traccar is unreachable the listener retries, and its logs never hold the token", async () => {
  const down = await startFakeTraccar();
  const url = down.url;
  await down.close();
  const token = "s3cret-traccar-token";
  await using t = await testApp({
    config: { TRACCAR_URL: url, TRACCAR_TOKEN: token, LOG_LEVEL: "debug" },
    deps: (base) => ({ traccar: traccarFromConfig(base.config) }),
  });
  let attempts = 0;
  const listener = startTraccarListener(t.deps, { backoff: () => (attempts++, 10) })!;
  await waitFor(() => attempts >= 3, "three failed attempts");
  await listener.close();
  const failures = t.log.lines.filter((l) => l.includes("Traccar listener cannot connect"));
  assert.ok(failures.length >= 3);
  assert.match(failures[0], /Cannot reach Traccar \(GET \/api\/session\)/);
  assert.ok(t.log.lines.every((l) => !l.includes(token)), "a log line holds the Traccar token");
});
