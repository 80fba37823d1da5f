/**
 * The vehicle-lookup mobile app's socket, GET / and GET /ws/legacy, with the real vehicle-lookup flow in real
 * Chromium against the demo portal served by the same server. One browser pool per test (browserTest).
 */
import assert from "node:assert/strict";
import { automationEvents } from "../db/schema.ts";
import { browserTest, ended, type Json, type ServedApp, servedApp, socket } from "./e2e_fixtures.ts";
import { problem } from "./helpers.ts";

const ADMIN = { "x-api-key": "admin-key" };
const BEARER_ADMIN = { authorization: "Bearer admin-key" };
const WAITING_FOR_CODE = "We sent a code to +36 20 *** 4567";

/** The mobile app's socket on `a`, open. */
async function openApp(a: ServedApp, headers: Record<string, string> = ADMIN) {
  const app = socket(`${a.wsBase}/ws/legacy`, headers);
  await app.opened;
  return app;
}

/** Messages of `app` from index `from` on. */
const since = (app: { messages: Json[] }, from: number) => app.messages.slice(from);

browserTest(
  "GET /ws/legacy answers 401 before the upgrade without a valid key, and 426 to a plain GET",
  async (pool) => {
    await using a = await servedApp(pool);
    for (const headers of [{}, { "x-api-key": "wrong" }] as Record<string, string>[]) {
      const res = await a.call("GET", "/ws/legacy", undefined, { upgrade: "websocket", ...headers });
      assert.equal(res.status, 401);
      assert.equal((await problem(res)).detail, "A valid API key or Bearer access token is required");
    }
    const plain = await a.call("GET", "/ws/legacy", undefined, ADMIN);
    assert.equal(plain.status, 426);
    await plain.body?.cancel();
  },
);

browserTest(
  "GET /ws/<anything but a session id> is no socket, and GET /ws still starts sessions",
  async (pool) => {
    await using a = await servedApp(pool);
    const notJob = await a.call("GET", "/ws/not-a-job", undefined, { ...ADMIN, upgrade: "websocket" });
    assert.equal(notJob.status, 404, "/ws/<anything but a session id> is no job socket");
    await notJob.body?.cancel();
    // /ws (start a session with the first message) is the session API's, not a booking job's socket.
    const start = socket(`${a.wsBase}/ws`, ADMIN);
    await start.opened;
    start.send({ type: "start", flow: "api-access", input: {} });
    const status = await start.next((m) => m.type === "status", "the session's first status");
    assert.equal(status.status, "queued");
    start.send({ type: "cancel" });
    await start.closed;
  },
);

browserTest(
  "ws://host/ (the seed's URL) looks up ABC123: every data item as pending with distinct keys, the SMS code asked (again after a wrong one), then success last",
  async (pool) => {
    await using a = await servedApp(pool);
    // Seed 000: "Connect to the ws://IP:PORT using plain websocket", "Set the x-api-key header".
    const app = socket(`${a.wsBase}/`, ADMIN);
    await app.opened;
    app.send("abc 123");
    const waiting = await app.next((m) => m.status === "waiting", "the 2FA request");
    assert.deepEqual(waiting, { status: "waiting", percentage: 100, key: "input", value: WAITING_FOR_CODE });
    app.send("000000");
    const again = await app.next((m) => m.status === "waiting" && m !== waiting, "the 2FA request again");
    assert.equal(again.value, `Invalid code. ${WAITING_FOR_CODE}`);
    const code = (await a.debug()).sms.at(-1)!.code;
    app.send(code);
    const success = await app.next((m) => m.status === "success", "success");
    assert.deepEqual(success, { status: "success", percentage: 100, key: "message" });

    const pending = app.messages.filter((m) => m.status === "pending");
    assert.ok(
      pending.every((m) =>
        Object.keys(m).join() === "status,percentage,key,value" && m.percentage >= 0 && m.percentage < 100
      ),
    );
    assert.deepEqual(pending.find((m) => m.key === "brand"), {
      status: "pending",
      percentage: pending.find((m) => m.key === "brand")!.percentage,
      key: "brand",
      value: "BENTLEY",
    });
    const value = (key: string) => pending.find((m) => m.key === key)?.value;
    // Every data group the seed names: registration, specs, odometer, accidents, restrictions, images.
    assert.equal(value("vin"), "SCBFF63W3EC012345");
    assert.equal(value("odometer.2022-05-30"), "129870");
    assert.equal(value("accident.2019-11-03"), "Front bumper and headlight damage, repaired");
    assert.equal(
      value("restriction.alienation_ban"),
      "Alienation and encumbrance ban in favour of Merkantil Bank",
    );
    const keys = pending.map((m) => m.key);
    assert.equal(new Set(keys).size, keys.length, "no two items share a key");
    assert.equal(pending.length, 4 + 7 + 4 + 1 + 1 + 3, "every data item of ABC123 and its 3 photos");
    const pcts = pending.map((m) => m.percentage);
    assert.deepEqual(pcts, [...pcts].sort((x, y) => x - y));
    assert.equal(app.messages.at(-1), success, "success is the last message of the lookup");

    // The images: pending messages whose value is a URL the client fetches with its API key.
    const images = pending.filter((m) => m.key.startsWith("image."));
    assert.deepEqual(images.map((m) => m.key), ["image.1", "image.2", "image.3"]);
    const bodies = new Set<string>();
    for (const m of images) {
      assert.ok(m.value.startsWith(`${a.base}/`), m.value);
      const anon = await fetch(m.value);
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
      const res = await fetch(m.value, { headers: ADMIN });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], "a PNG");
      bodies.add(String(bytes.length) + bytes.subarray(-64).join());
    }
    assert.equal(bodies.size, 3, "three different photos");

    const dump = JSON.stringify(await a.db.db.select().from(automationEvents));
    assert.ok(!dump.includes(code), "the SMS code is not stored");
    await app.close();
  },
);

browserTest(
  "GET / without an upgrade is still the console; an upgrade without a key is 401",
  async (pool) => {
    await using a = await servedApp(pool);
    for (const headers of [{}, ADMIN]) {
      const page = await a.call("GET", "/", undefined, headers);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type")!, /^text\/html/);
      await page.body?.cancel();
    }
    const anon = await a.call("GET", "/", undefined, { upgrade: "websocket" });
    assert.equal(anon.status, 401);
    assert.equal((await problem(anon)).detail, "A valid API key or Bearer access token is required");
  },
);

browserTest(
  "GET /ws/legacy takes the next plate once a lookup ended: ZZZ999 then fails with the registry's message and no data items",
  async (pool) => {
    await using a = await servedApp(pool);
    const app = await openApp(a);
    app.send("ABC123");
    await app.next((m) => m.status === "waiting", "the 2FA request");
    app.send((await a.debug()).sms.at(-1)!.code);
    await app.next((m) => m.status === "success", "success");

    const before = app.messages.length;
    app.send("ZZZ999");
    await app.next((m) => m.status === "waiting" && app.messages.indexOf(m) >= before, "the 2FA request");
    app.send((await a.debug()).sms.at(-1)!.code);
    const fail = await app.next((m) => m.status === "fail", "the failure");
    assert.deepEqual(fail, {
      status: "fail",
      percentage: 100,
      key: "message",
      value: "No vehicle found with plate ZZZ999",
    });
    assert.equal(since(app, before).filter((m) => m.status === "pending").length, 0);

    const sessions = await a.automation.sessions.list({ owner: "admin" });
    assert.deepEqual(sessions.map((s) => [s.flow, s.status]).sort(), [
      ["vehicle-lookup", "failed"],
      ["vehicle-lookup", "succeeded"],
    ]);
    await app.close();
  },
);

browserTest(
  "closing GET /ws/legacy mid-lookup cancels the lookup (a legacy client cannot re-attach) and closes its browser context",
  async (pool) => {
    await using a = await servedApp(pool);
    const app = await openApp(a);
    app.send("XYZ789");
    await app.next((m) => m.status === "waiting", "the 2FA request");
    const [waiting] = await a.automation.sessions.list({ owner: "admin", status: ["waiting"] });
    assert.equal(waiting.flow, "vehicle-lookup");
    await app.close();
    const cancelled = await ended(a.automation.sessions, waiting.id);
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.prompt, null);
    assert.equal(pool.openContexts, 0, "the context closes before the session's final event");
  },
);

browserTest("GET /ws/legacy answers fail for a plate the flow cannot take", async (pool) => {
  await using a = await servedApp(pool);
  const app = await openApp(a, BEARER_ADMIN);
  app.send("!");
  const bad = await app.next((m) => m.status === "fail", "the refusal");
  assert.equal(bad.percentage, 100);
  assert.equal(bad.key, "message");
  assert.match(bad.value, /^The input does not fit the flow vehicle-lookup: A plate is 2–10 letters/);
  await app.close();
});

browserTest(
  "GET /ws/legacy fails clearly and cancels the lookup when the registry asks for credentials (no FLOW_SECRETS)",
  async (pool) => {
    await using a = await servedApp(pool, { FLOW_SECRETS: "{}" });
    const app = await openApp(a, BEARER_ADMIN);
    // Without server-side credentials the registry asks for them, which this protocol cannot carry.
    app.send("ABC123");
    const fail = await app.next((m) => m.status === "fail", "the credentials failure");
    assert.equal(
      fail.value,
      "The vehicle registry asks for credentials, which this client cannot answer; " +
        "the server needs FLOW_SECRETS for vehicle-lookup",
    );
    const [asked] = await a.automation.sessions.list({ owner: "admin" });
    const cancelled = await ended(a.automation.sessions, asked.id);
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.data.brand, undefined);
    await app.close();
  },
);
