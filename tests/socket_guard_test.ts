/**
 * What every WebSocket is held to (issue 15 item 9): browser upgrades only from allowed origins (403
 * otherwise), a message over 64 KiB closes the socket with 1009, a flood of messages or of refused ones
 * closes it with 1008. A real server on 127.0.0.1; no browser is launched (no session runs).
 */
import assert from "node:assert/strict";
import { SessionStore } from "../src/automation/session_store.ts";
import {
  CLOSE_POLICY,
  CLOSE_TOO_BIG,
  isAllowedOrigin,
  isTooBig,
  SOCKET_MAX_FAULTS,
  SOCKET_RATE,
  TokenBucket,
} from "../src/socket_guard.ts";
import { ADMIN, automationApp, testPool } from "./automation_fixtures.ts";
import { testConfig } from "./helpers.ts";

/** An app with automation (its pool never launches Chromium here) served on a port of its own. */
async function served(config: Record<string, string> = {}) {
  const pool = testPool();
  const a = await automationApp(pool, "http://127.0.0.1:9", config);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
  return Object.assign(a, {
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await a.automation.close();
      await a.db.close();
      await pool.close();
    },
  });
}

/** The status code a raw WebSocket upgrade request gets (a handshake written by hand, so Origin and Host are ours). */
async function upgradeStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = [
      `GET ${path} HTTP/1.1`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries({ host: `127.0.0.1:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}`),
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(head));
    let text = "";
    const buf = new Uint8Array(1024);
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return Number(text.split(" ")[1]);
  } finally {
    conn.close();
  }
}

/** Opens `/ws` with a ticket; resolves with the messages received and the close code once the server closes. */
async function openWs(a: Awaited<ReturnType<typeof served>>, path = "/ws", body: unknown = {}) {
  const res = await a.json("POST", "/api/v1/ws/tickets", body, ADMIN);
  assert.equal(res.status, 201);
  const ticket = new URL((await res.json()).ws_url).searchParams.get("ticket")!;
  const ws = new WebSocket(`ws://127.0.0.1:${a.port}${path}?ticket=${encodeURIComponent(ticket)}`);
  const received: string[] = [];
  ws.onmessage = (e) => void received.push(String(e.data));
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return { ws, received, closed };
}

Deno.test("ALLOWED_ORIGINS: a browser upgrade from another origin gets 403; same-origin, listed and non-browser ones open", async () => {
  await using a = await served({ ALLOWED_ORIGINS: "https://app.example" });
  const own = `http://127.0.0.1:${a.port}`;
  const key = { "x-api-key": "admin-key" };
  assert.equal(await upgradeStatus(a.port, "/ws", { ...key, origin: "https://evil.example" }), 403);
  assert.equal(await upgradeStatus(a.port, "/ws", { ...key, origin: "null" }), 403);
  // DNS rebinding: the page's origin and the Host agree, but the name is not in ALLOWED_HOSTS.
  const rebound = { ...key, host: `evil.example:${a.port}`, origin: `http://evil.example:${a.port}` };
  assert.equal(await upgradeStatus(a.port, "/ws", rebound), 403);
  assert.equal(await upgradeStatus(a.port, "/ws/legacy", { ...key, origin: "https://evil.example" }), 403);
  assert.equal(await upgradeStatus(a.port, "/ws", { ...key, origin: own }), 101);
  assert.equal(await upgradeStatus(a.port, "/ws", { ...key, origin: "https://app.example" }), 101);
  assert.equal(await upgradeStatus(a.port, "/ws", key), 101, "no Origin: not a browser");
});

Deno.test("isAllowedOrigin: PUBLIC_URL's origin is allowed, a port or scheme that differs is not", () => {
  const config = testConfig({
    PUBLIC_URL: "https://gate.example",
    ALLOWED_ORIGINS: "https://a.example:8443/",
  });
  assert.deepEqual(config.ALLOWED_ORIGINS, ["https://a.example:8443"]);
  assert.equal(isAllowedOrigin(config, "https://gate.example", "internal:8000"), true);
  assert.equal(isAllowedOrigin(config, "http://gate.example", "internal:8000"), false);
  assert.equal(isAllowedOrigin(config, "https://a.example:8443", undefined), true);
  assert.equal(isAllowedOrigin(config, "https://a.example", undefined), false);
  assert.equal(isAllowedOrigin(config, "not a url", undefined), false);
  assert.throws(() => testConfig({ ALLOWED_ORIGINS: "app.example" }), /not an origin/);
});

Deno.test("a socket message over 64 KiB closes the socket with 1009 before it is parsed", async () => {
  await using a = await served();
  const { ws, received, closed } = await openWs(a);
  ws.send(`{"type":"start","flow":"${"x".repeat(100 * 1024)}"}`);
  const close = await closed;
  assert.equal(close.code, CLOSE_TOO_BIG);
  assert.deepEqual(received, [], "no reply: the message was not parsed");
  assert.equal(isTooBig("é".repeat(40 * 1024)), true, "bytes count, not characters");
  assert.equal(isTooBig(new Uint8Array(64 * 1024)), false);
});

Deno.test("20,000 malformed socket messages get at most SOCKET_MAX_FAULTS replies, then a 1008 close", async () => {
  await using a = await served();
  const few = await openWs(a);
  for (let n = 0; n < SOCKET_MAX_FAULTS + 10; n++) few.ws.send("{not json");
  const close = await few.closed;
  assert.deepEqual([close.code, close.reason], [CLOSE_POLICY, "too many refused messages"]);
  assert.equal(few.received.length, SOCKET_MAX_FAULTS);
  assert.match(few.received[0], /not valid JSON/);

  const flood = await openWs(a);
  for (let n = 0; n < 20_000 && flood.ws.readyState === WebSocket.OPEN; n++) flood.ws.send("{not json");
  const end = await flood.closed;
  // The client is still writing when the server's close arrives, so the handshake may not finish cleanly.
  assert.ok([CLOSE_POLICY, 0, 1006].includes(end.code), `closed with ${end.code}`);
  assert.ok(flood.received.length <= SOCKET_MAX_FAULTS, `${flood.received.length} replies`);
});

Deno.test("a socket sending faster than its token bucket is closed with 1008, even with valid messages", async () => {
  await using a = await served();
  const id = crypto.randomUUID();
  const now = a.clock.now();
  await new SessionStore({ db: a.deps.db, clock: a.clock }).create({
    id,
    owner: "admin",
    flow: "test-hang",
    input: {},
    webhookUrl: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  });
  const { ws, received, closed } = await openWs(a, `/api/v1/sessions/${id}/ws`, { session: id });
  // Sent at once: the bucket (100, then 50 a second) runs dry long before these have all arrived.
  for (let n = 0; n < 1000 && ws.readyState === WebSocket.OPEN; n++) ws.send('{"type":"unwatch"}');
  // Nothing else ends this socket (the queued session never ends, no message is refused): the guard did. The
  // client is still writing when the close arrives, so the close handshake may not finish cleanly.
  const close = await closed;
  assert.ok([CLOSE_POLICY, 0, 1006].includes(close.code), `closed with ${close.code}`);
  if (close.wasClean) assert.equal(close.reason, "too many messages");
  assert.ok(received.every((m) => JSON.parse(m).type !== "error"), "valid messages were not refused");
});

Deno.test("TokenBucket: a burst, then the rate", () => {
  let t = 0;
  const bucket = new TokenBucket(SOCKET_RATE, () => t);
  for (let n = 0; n < SOCKET_RATE.burst; n++) assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  t += 1000;
  for (let n = 0; n < SOCKET_RATE.perSecond; n++) assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
});
