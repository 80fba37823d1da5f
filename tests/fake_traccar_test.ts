// Proves the fake Traccar speaks the real protocol before other tests lean on it.
import { deepStrictEqual as assertEquals, match as assertMatch, ok as assert } from "node:assert/strict";
import { type FakeTraccar, startFakeTraccar } from "./fakes/traccar.ts";

const BASIC_ADMIN = `Basic ${btoa("admin@example.com:admin")}`;

/** A socket client that queues messages and never leaves a socket open behind a failed test. */
class SocketProbe implements AsyncDisposable {
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  readonly #socket: WebSocket;
  readonly #messages: unknown[] = [];
  readonly #waiters: Array<(message: unknown) => void> = [];

  constructor(url: string, headers: Record<string, string> = {}) {
    this.#socket = new WebSocket(url, { headers });
    this.closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.opened = new Promise((resolve, reject) => {
      this.#socket.onopen = () => resolve();
      this.#socket.onerror = (event) => reject(new Error((event as ErrorEvent).message));
    });
    this.opened.catch(() => {}); // tests that expect a refusal await it themselves
    this.#socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#messages.push(message);
    };
  }

  next(): Promise<unknown> {
    const queued = this.#messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return within(new Promise((resolve) => this.#waiters.push(resolve)), "socket message");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket.readyState === WebSocket.CONNECTING || this.#socket.readyState === WebSocket.OPEN) {
      await this.opened.catch(() => {});
      this.#socket.close();
    }
    await within(this.closed, "socket close");
  }
}

/** Waits at most 2 s, clearing its timer either way (the test sanitizers check timers). */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), 2000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function login(
  traccar: FakeTraccar,
  email = "admin@example.com",
  password = "admin",
): Promise<Response> {
  return await fetch(`${traccar.url}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password }),
  });
}

async function sessionCookie(traccar: FakeTraccar): Promise<string> {
  const response = await login(traccar);
  await response.body?.cancel();
  const setCookie = response.headers.get("set-cookie") ?? "";
  return setCookie.split(";")[0];
}

async function api(
  traccar: FakeTraccar,
  method: string,
  path: string,
  body?: unknown,
  auth: string = BASIC_ADMIN,
): Promise<{ status: number; type: string | null; body: unknown }> {
  const response = await fetch(`${traccar.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get("content-type");
  return { status: response.status, type, body: type === "application/json" ? JSON.parse(text) : text };
}

Deno.test("GET /api/socket without a session is refused with 503, as Traccar's socket servlet does", async () => {
  await using traccar = await startFakeTraccar();
  await using probe = new SocketProbe(traccar.socketUrl);
  const error = await probe.opened.then(() => null, (e: Error) => e);
  assertMatch(String(error?.message), /503/);
  assertEquals(traccar.socketCount, 0);
  assertEquals(traccar.requests.at(-1), {
    method: "GET",
    path: "/api/socket",
    search: "",
    auth: null,
    body: null,
    status: 503,
  });
});

Deno.test("GET /api/socket ignores Basic and Bearer headers: only the session authorises it", async () => {
  await using traccar = await startFakeTraccar();
  for (const authorization of [BASIC_ADMIN, "Bearer tok"]) {
    await using probe = new SocketProbe(traccar.socketUrl, { authorization });
    const error = await probe.opened.then(() => null, (e: Error) => e);
    assertMatch(String(error?.message), /503/);
  }
  assertEquals(traccar.requests.map((r) => [r.auth, r.status]), [["basic", 503], ["bearer", 503]]);
  assertEquals(traccar.socketCount, 0);
});

Deno.test("POST /api/session sets JSESSIONID and rejects a wrong password with 401", async () => {
  await using traccar = await startFakeTraccar();
  const ok = await login(traccar);
  assertEquals(ok.status, 200);
  assertEquals(ok.headers.get("content-type"), "application/json");
  const user = await ok.json();
  assertEquals([user.id, user.email, user.administrator, user.password], [
    1,
    "admin@example.com",
    true,
    null,
  ]);
  assertMatch(ok.headers.get("set-cookie") ?? "", /^JSESSIONID=node0\w+\.node0; Path=\/; HttpOnly$/);

  const wrong = await login(traccar, "admin@example.com", "nope");
  await wrong.body?.cancel();
  assertEquals(wrong.status, 401);
  assertEquals(wrong.headers.get("set-cookie"), null);
  assertEquals(traccar.requests[0].body, { email: "admin@example.com", password: "admin" });
});

Deno.test("GET /api/session?token= opens a session; GET /api/session without one is 404", async () => {
  await using traccar = await startFakeTraccar({ token: "secret" });
  const none = await fetch(`${traccar.url}/api/session`);
  await none.body?.cancel();
  assertEquals(none.status, 404);

  const bad = await fetch(`${traccar.url}/api/session?token=wrong`);
  await bad.body?.cancel();
  assertEquals(bad.status, 400);

  const good = await fetch(`${traccar.url}/api/session?token=secret`);
  assertEquals(good.status, 200);
  assertEquals((await good.json()).email, "admin@example.com");
  const cookie = (good.headers.get("set-cookie") ?? "").split(";")[0];
  const again = await api(traccar, "GET", "/api/session", undefined, "");
  assertEquals(again.status, 404);
  const withCookie = await fetch(`${traccar.url}/api/session`, { headers: { cookie } });
  assertEquals((await withCookie.json()).id, 1);
});

Deno.test("REST accepts Basic, Bearer and the cookie; a bad header is 401 even beside a good cookie", async () => {
  await using traccar = await startFakeTraccar();
  const cookie = await sessionCookie(traccar);
  assertEquals((await api(traccar, "GET", "/api/devices")).status, 200);
  assertEquals((await api(traccar, "GET", "/api/devices", undefined, "Bearer tok")).status, 200);
  const byCookie = await fetch(`${traccar.url}/api/devices`, { headers: { cookie } });
  await byCookie.body?.cancel();
  assertEquals(byCookie.status, 200);
  assertEquals((await api(traccar, "GET", "/api/devices", undefined, "Bearer nope")).status, 401);
  const mixed = await fetch(`${traccar.url}/api/devices`, {
    headers: { cookie, authorization: "Bearer nope" },
  });
  await mixed.body?.cancel();
  assertEquals(mixed.status, 401);
  const anonymous = await fetch(`${traccar.url}/api/devices`);
  await anonymous.body?.cancel();
  assertEquals(anonymous.status, 401);
  assertEquals(traccar.requests.slice(1).map((r) => r.auth), [
    "basic",
    "bearer",
    "cookie",
    "bearer",
    "bearer",
    null,
  ]);
});

Deno.test("the socket opens with the session cookie, sends the latest positions, then an emitted event", async () => {
  await using traccar = await startFakeTraccar({ notifications: [{ type: "alarm" }] });
  const created = await api(traccar, "POST", "/api/devices", { name: "Van", uniqueId: "356000000000001" });
  assertEquals(created.status, 200);
  const device = created.body as { id: number; status: string };
  assertEquals(device.status, "offline");
  traccar.emitPosition({ deviceId: device.id, latitude: 1.5, longitude: 2.5 });

  const cookie = await sessionCookie(traccar);
  await using probe = new SocketProbe(traccar.socketUrl, { cookie });
  await probe.opened;
  assertEquals(traccar.socketCount, 1);
  const initial = await probe.next() as { positions: Array<{ deviceId: number; latitude: number }> };
  assertEquals(Object.keys(initial), ["positions"]);
  assertEquals(initial.positions.map((p) => [p.deviceId, p.latitude]), [[device.id, 1.5]]);

  // No web notification for ignitionOn: stored, but not pushed (NotificationManager).
  traccar.emitEvent({ type: "ignitionOn", deviceId: device.id });
  const alarm = traccar.emitEvent({ type: "alarm", deviceId: device.id, attributes: { alarm: "sos" } });
  const pushed = await probe.next() as { events: Array<Record<string, unknown>> };
  assertEquals(Object.keys(pushed), ["events"]);
  assertEquals(pushed.events[0].id, alarm.id);
  assertEquals(pushed.events[0].type, "alarm");
  assertEquals(pushed.events[0].eventTime, alarm.eventTime);
  assertEquals((pushed.events[0].attributes as Record<string, unknown>).alarm, "sos");
  assertEquals(traccar.events.map((e) => e.type), ["ignitionOn", "alarm"]);

  traccar.sendKeepalive();
  assertEquals(await probe.next(), {});
});

Deno.test("POST /api/commands/send answers 202 queued while offline and 200 once online, then the reply", async () => {
  await using traccar = await startFakeTraccar({
    notifications: [{ type: "commandResult" }],
    autoReply: (command) => `ok:${command.attributes.data}`,
  });
  const device = traccar.addDevice({ name: "Tracker", uniqueId: "356000000000002" });
  const command = { deviceId: device.id, type: "custom", attributes: { data: "STATUS#" } };

  const queued = await api(traccar, "POST", "/api/commands/send", command);
  assertEquals(queued.status, 202);
  assertEquals((queued.body as { type: string }).type, "custom");
  assertEquals(traccar.queuedCommands.length, 1);

  const cookie = await sessionCookie(traccar);
  await using probe = new SocketProbe(traccar.socketUrl, { cookie });
  assertEquals(await probe.next(), { positions: [] });

  // Coming online pushes the device, delivers the queued command, and the device answers it.
  traccar.setOnline(device.id, true);
  const update = await probe.next() as { devices: Array<{ status: string }> };
  assertEquals(update.devices[0].status, "online");
  assertEquals(traccar.queuedCommands, []);
  const queuedReply = await probe.next() as {
    events: Array<{ type: string; attributes: { result: string } }>;
  };
  assertEquals([queuedReply.events[0].type, queuedReply.events[0].attributes.result], [
    "commandResult",
    "ok:STATUS#",
  ]);
  await probe.next(); // the position that carried it

  const sent = await api(traccar, "POST", "/api/commands/send", {
    ...command,
    attributes: { data: "WHERE#" },
  });
  assertEquals(sent.status, 200);
  assertEquals(sent.type, "application/json");
  assertEquals(sent.body, {
    id: 0,
    deviceId: device.id,
    description: null,
    type: "custom",
    textChannel: false,
    attributes: { data: "WHERE#" },
  });
  const result = await probe.next() as {
    events: Array<{ type: string; positionId: number; attributes: { result: string } }>;
  };
  const position = await probe.next() as { positions: Array<{ id: number; attributes: { result: string } }> };
  assertEquals(result.events[0].type, "commandResult");
  assertEquals(result.events[0].attributes.result, "ok:WHERE#");
  assertEquals(position.positions[0].attributes.result, "ok:WHERE#");
  assertEquals(result.events[0].positionId, position.positions[0].id);
  assertEquals(traccar.commands.map((c) => [c.command.attributes.data, c.queued, c.delivered]), [
    ["STATUS#", true, true],
    ["WHERE#", false, true],
  ]);
});

Deno.test("POST /api/devices rejects a duplicate uniqueId with 400, like the database index does", async () => {
  await using traccar = await startFakeTraccar();
  const first = await api(traccar, "POST", "/api/devices", { name: "A", uniqueId: "356000000000003" });
  assertEquals(first.status, 200);
  const second = await api(traccar, "POST", "/api/devices", { name: "B", uniqueId: "356000000000003" });
  assertEquals(second.status, 400);
  assertEquals(second.type, "text/plain");
  assertEquals(traccar.devices.length, 1);
});

Deno.test("GET /api/devices filters by repeated uniqueId and only shows devices linked to the caller", async () => {
  await using traccar = await startFakeTraccar();
  const user = traccar.addUser({ name: "Ann", email: "ann@example.com", password: "pw" });
  const a = traccar.addDevice({ name: "A", uniqueId: "1" });
  const b = traccar.addDevice({ name: "B", uniqueId: "2" });
  traccar.addDevice({ name: "C", uniqueId: "3" }, user.id);

  const byUniqueId = await api(traccar, "GET", "/api/devices?uniqueId=1&uniqueId=2&uniqueId=3");
  assertEquals((byUniqueId.body as Array<{ id: number }>).map((d) => d.id), [a.id, b.id]);
  const all = await api(traccar, "GET", "/api/devices?all=true");
  assertEquals((all.body as unknown[]).length, 3);

  assertEquals(
    (await api(traccar, "POST", "/api/permissions", { userId: user.id, deviceId: a.id })).status,
    204,
  );
  const annBasic = `Basic ${btoa("ann@example.com:pw")}`;
  const ann = await api(traccar, "GET", "/api/devices", undefined, annBasic);
  assertEquals((ann.body as Array<{ name: string }>).map((d) => d.name), ["A", "C"]);
  assertEquals(
    (await api(traccar, "DELETE", "/api/permissions", { userId: user.id, deviceId: a.id })).status,
    204,
  );
  assertEquals(traccar.permissions.some((p) => p.userId === user.id && p.deviceId === a.id), false);
});

Deno.test("PUT and DELETE /api/devices/{id} replace the editable fields and remove the device", async () => {
  await using traccar = await startFakeTraccar();
  const device = traccar.addDevice({ name: "Old", uniqueId: "9", phone: "+100" });
  traccar.setOnline(device.id, true);
  const put = await api(traccar, "PUT", `/api/devices/${device.id}`, {
    id: device.id,
    name: "New",
    uniqueId: "9",
  });
  assertEquals(put.status, 200);
  assertEquals([traccar.devices[0].name, traccar.devices[0].phone, traccar.devices[0].status], [
    "New",
    null,
    "online",
  ]);
  assertEquals((await api(traccar, "DELETE", `/api/devices/${device.id}`)).status, 204);
  assertEquals(traccar.devices, []);
});

Deno.test("users can be created and updated; the password is write-only", async () => {
  await using traccar = await startFakeTraccar();
  const created = await api(traccar, "POST", "/api/users", {
    name: "Bob",
    email: "bob@example.com",
    password: "pw",
    attributes: { phone: "+1" },
  });
  assertEquals(created.status, 200);
  const bob = created.body as { id: number; password: null; attributes: Record<string, unknown> };
  assertEquals([bob.id, bob.password, bob.attributes.phone], [2, null, "+1"]);
  const updated = await api(traccar, "PUT", `/api/users/${bob.id}`, { ...bob, name: "Robert" });
  assertEquals((updated.body as { name: string }).name, "Robert");
  assertEquals(traccar.passwordOf(bob.id), "pw");
  assertEquals(
    (await login(traccar, "bob@example.com", "pw").then(async (r) => (await r.body?.cancel(), r))).status,
    200,
  );
  const list = await api(traccar, "GET", "/api/users");
  assertEquals((list.body as unknown[]).length, 2);
});

Deno.test("bad JSON is 400, a form where JSON is expected is 415, an unknown route is 404", async () => {
  await using traccar = await startFakeTraccar();
  const badJson = await fetch(`${traccar.url}/api/devices`, {
    method: "POST",
    headers: { authorization: BASIC_ADMIN, "content-type": "application/json" },
    body: "{nope",
  });
  await badJson.body?.cancel();
  assertEquals(badJson.status, 400);
  const form = await fetch(`${traccar.url}/api/devices`, {
    method: "POST",
    headers: { authorization: BASIC_ADMIN, "content-type": "application/x-www-form-urlencoded" },
    body: "name=x",
  });
  await form.body?.cancel();
  assertEquals(form.status, 415);
  assertEquals((await api(traccar, "GET", "/api/nothing")).status, 404);
  assertEquals((await api(traccar, "GET", "/nothing")).status, 404);
});

Deno.test("dropSockets cuts the socket without a close frame; the client can reconnect", async () => {
  await using traccar = await startFakeTraccar();
  const cookie = await sessionCookie(traccar);
  {
    await using probe = new SocketProbe(traccar.socketUrl, { cookie });
    await probe.opened;
    assertEquals(traccar.socketCount, 1);
    traccar.dropSockets();
    const closed = await within(probe.closed, "socket close");
    assertEquals(closed.wasClean, false);
    assert(closed.code !== 1000);
    assertEquals(traccar.socketCount, 0);
  }
  await using again = new SocketProbe(traccar.socketUrl, { cookie });
  assertEquals(await again.next(), { positions: [] });
  assertEquals(traccar.socketCount, 1);

  traccar.expireSessions();
  await using stale = new SocketProbe(traccar.socketUrl, { cookie });
  assertMatch(String(await stale.opened.then(() => "", (e: Error) => e.message)), /503/);
});
