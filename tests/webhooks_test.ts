/**
 * Durable webhooks without a browser: the subscriptions API, signatures checked by the reference
 * `standardwebhooks` verifier, in-order delivery, retries on the schedule (fake clock, no sleeping),
 * a receiver down then back, a worker stopped or dead mid-delivery, two workers on one database, SSRF.
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { createDb, type DbHandle } from "../db/client.ts";
import { webhookAttempts, webhookMessages } from "../db/schema.ts";
import { markInterrupted } from "../src/automation/mod.ts";
import { sessionOutbox } from "../src/webhooks/mod.ts";
import { enqueueEvent } from "../src/webhooks/outbox.ts";
import { blockedRange } from "../src/webhooks/ssrf.ts";
import { problem, type TestApp, testApp } from "./helpers.ts";
import {
  outboxStore,
  type Received,
  receiver,
  SCRIPTED_TYPES,
  scriptedSession,
  worker,
} from "./webhook_fixtures.ts";

const ADMIN = { "x-api-key": "admin-key" };
const SCHEDULE = { WEBHOOK_RETRY_SCHEDULE: "0,5,300" };

/** A test app whose fake clock reads the real time (the reference verifier allows 5 minutes of skew). */
async function app(config: Record<string, string> = {}): Promise<TestApp> {
  const t = await testApp({ config: { ...SCHEDULE, ...config } });
  t.clock.advance(Date.now() - t.clock.now().getTime());
  return t;
}

async function subscribe(t: TestApp, url: string, events: string[] = ["*"]) {
  const res = await t.json("POST", "/api/v1/webhooks", { url, events }, ADMIN);
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json() as { id: string; secret: string };
}

function headersOf(r: Received): Record<string, string> {
  return Object.fromEntries(r.headers.entries());
}

Deno.test("the subscriptions API: create shows a whsec_ secret once, list/get/patch/delete, 401/403/404/422", async () => {
  await using t = await app();
  const noKey = await t.json("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", events: ["*"] });
  assert.equal(noKey.status, 401);
  await noKey.body?.cancel();
  const user = await t.login();
  const asUser = await t.json("GET", "/api/v1/webhooks", undefined, {
    authorization: `Bearer ${user.access_token}`,
  });
  assert.equal(asUser.status, 403);
  await asUser.body?.cancel();
  const bad = await t.json("POST", "/api/v1/webhooks", { url: "ftp://x", events: ["session.nope"] }, ADMIN);
  assert.equal(bad.status, 422);
  const fields = ((await problem(bad)).errors as { field: string }[]).map((e) => e.field).sort();
  assert.deepEqual(fields, ["events.0", "url"]);

  const created = await subscribe(t, "http://127.0.0.1:9/hook", ["session.completed", "device.claimed"]);
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
  const got = await (await t.json("GET", `/api/v1/webhooks/${created.id}`, undefined, ADMIN)).json();
  assert.equal(got.url, "http://127.0.0.1:9/hook");
  assert.deepEqual(got.events, ["session.completed", "device.claimed"]);
  assert.equal(got.enabled, true);
  assert.equal(got.secret, undefined, "the secret is shown once");
  const stored = await t.db.db.execute("select secret_sealed from webhook_endpoints");
  assert.ok(!JSON.stringify(stored).includes(created.secret.slice(6)), "the secret is not stored in clear");
  const patched = await t.json(
    "PATCH",
    `/api/v1/webhooks/${created.id}`,
    { enabled: false, events: ["*"] },
    ADMIN,
  );
  assert.equal(patched.status, 200);
  assert.deepEqual((await patched.json()).events, ["*"]);
  const list = await (await t.json("GET", "/api/v1/webhooks", undefined, ADMIN)).json();
  assert.deepEqual(list.endpoints.map((e: { enabled: boolean }) => e.enabled), [false]);
  const del = await t.json("DELETE", `/api/v1/webhooks/${created.id}`, undefined, ADMIN);
  assert.equal(del.status, 204);
  const gone = await t.json("GET", `/api/v1/webhooks/${created.id}`, undefined, ADMIN);
  assert.equal(gone.status, 404);
  assert.equal((await problem(gone)).status, 404);
});

Deno.test("a session's events reach a subscription and its webhook_url in order, verified by the standardwebhooks package", async () => {
  await using t = await app({ WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}` });
  await using sub = receiver();
  await using own = receiver();
  const { secret } = await subscribe(t, sub.url, [
    "session.started",
    "session.progress",
    "session.prompt",
    "session.completed",
  ]);
  const id = await scriptedSession(outboxStore(t.deps), t.clock, { webhookUrl: own.url });
  await using w = worker(t.deps);
  await w.drain();
  for (const [r, key] of [[sub, secret], [own, t.deps.config.WEBHOOK_SECRET!]] as const) {
    assert.deepEqual(r.received.map((x) => x.json.type), SCRIPTED_TYPES);
    const verifier = new Webhook(key);
    for (const x of r.received) {
      assert.deepEqual(verifier.verify(x.body, headersOf(x)), x.json, "the reference verifier accepts it");
      assert.equal((x.json.data as { session_id: string }).session_id, id);
      assert.match(x.json.timestamp as string, /^\d{4}-\d\d-\d\dT/);
    }
    assert.throws(() =>
      new Webhook(`whsec_${btoa("another secret of 32 bytes......")}`).verify(
        r.received[0].body,
        headersOf(r.received[0]),
      )
    );
  }
  const prompts = sub.received.filter((x) => x.json.type === "session.prompt");
  assert.match((prompts[0].json.data as { image: string }).image, /^data:image\/png;base64,/);
  assert.notEqual(
    (prompts[0].json.data as { image: string }).image,
    (prompts[1].json.data as { image: string }).image,
  );
});

Deno.test("a receiver failing twice gets the message on the third try with the same webhook-id, on the retry schedule", async () => {
  await using t = await app();
  await using r = receiver();
  r.answer = (_req, n) => new Response("no", { status: n <= 2 ? 500 : 200 });
  const ep = await subscribe(t, r.url, ["device.claimed"]);
  await enqueueEvent(t.deps.db, { type: "device.claimed", data: { device_id: "d1" } }, t.clock.now());
  await using w = worker(t.deps);
  await w.drain();
  assert.equal(r.received.length, 1);
  t.clock.advance(4_000);
  await w.drain();
  assert.equal(r.received.length, 1, "not before the schedule's 5 s");
  t.clock.advance(1_000);
  await w.drain();
  assert.equal(r.received.length, 2);
  t.clock.advance(299_000);
  await w.drain();
  assert.equal(r.received.length, 2, "not before the schedule's 300 s");
  t.clock.advance(1_000);
  await w.drain();
  assert.equal(r.received.length, 3);
  assert.equal(new Set(r.received.map((x) => x.headers.get("webhook-id"))).size, 1);
  assert.equal(new Set(r.received.map((x) => x.body)).size, 1, "every retry sends the same bytes");
  const res = await t.json("GET", `/api/v1/webhooks/${ep.id}/deliveries`, undefined, ADMIN);
  assert.equal(res.status, 200);
  const [d] = (await res.json()).deliveries;
  assert.equal(d.status, "delivered");
  assert.equal(d.attempts, 3);
  assert.deepEqual(d.attempt_log.map((a: { status_code: number }) => a.status_code), [500, 500, 200]);
  const again = await t.json("POST", `/api/v1/webhooks/${ep.id}/deliveries/${d.id}/retry`, undefined, ADMIN);
  assert.equal(again.status, 202);
  await again.body?.cancel();
  await w.drain();
  assert.equal(r.received.length, 4, "a manual retry sends it once more");
  assert.equal(r.received[3].headers.get("webhook-id"), d.id);
});

Deno.test("Retry-After on 429 is honoured, a 3xx is a failure and not followed, 410 disables the endpoint", async () => {
  await using t = await app();
  await using target = receiver();
  await using r = receiver();
  r.answer = (_req, n) =>
    n === 1
      ? new Response(null, { status: 429, headers: { "retry-after": "120" } })
      : n === 2
      ? new Response(null, { status: 307, headers: { location: target.url } })
      : new Response(null, { status: 410 });
  const ep = await subscribe(t, r.url, ["device.event"]);
  for (const n of [1, 2]) await enqueueEvent(t.deps.db, { type: "device.event", data: { n } }, t.clock.now());
  await using w = worker(t.deps);
  await w.drain();
  t.clock.advance(5_000);
  await w.drain();
  assert.equal(r.received.length, 1, "Retry-After: 120 outweighs the schedule's 5 s");
  t.clock.advance(115_000);
  await w.drain();
  assert.equal(r.received.length, 2);
  assert.equal(target.received.length, 0, "the redirect is not followed");
  t.clock.advance(300_000);
  await w.drain();
  assert.equal(r.received.length, 3);
  const got = await (await t.json("GET", `/api/v1/webhooks/${ep.id}`, undefined, ADMIN)).json();
  assert.equal(got.enabled, false);
  assert.match(got.disabled_reason, /410/);
  const { deliveries } = await (await t.json("GET", `/api/v1/webhooks/${ep.id}/deliveries`, undefined, ADMIN))
    .json();
  assert.deepEqual(deliveries.map((d: { status: string }) => d.status), ["cancelled", "cancelled"]);
  await enqueueEvent(t.deps.db, { type: "device.event", data: { n: 3 } }, t.clock.now());
  t.clock.advance(36_000_000);
  await w.drain();
  assert.equal(r.received.length, 3, "a disabled endpoint gets nothing new");
});

Deno.test("a receiver down for the whole session gets every event, in order, once it is back", async () => {
  await using t = await app({ WEBHOOK_RETRY_SCHEDULE: "0,5,60,60" });
  const down = receiver();
  const port = down.port;
  await down[Symbol.asyncDispose]();
  const { secret } = await subscribe(t, `http://127.0.0.1:${port}/hook`);
  await scriptedSession(outboxStore(t.deps), t.clock);
  await using w = worker(t.deps);
  await w.drain();
  t.clock.advance(5_000);
  await w.drain(); // the head message failed twice; the others wait behind it
  await using back = receiver(port);
  t.clock.advance(60_000);
  await w.drain();
  assert.deepEqual(back.received.map((x) => x.json.type), SCRIPTED_TYPES);
  for (const x of back.received) new Webhook(secret).verify(x.body, headersOf(x));
});

Deno.test("a worker stopped, or dead, mid-delivery loses nothing: another instance on the database delivers everything", async () => {
  await using t = await app();
  await using r = receiver();
  const { promise: hung, resolve: release } = Promise.withResolvers<void>();
  r.answer = async (_req, n) => {
    if (n === 1 || n === 3) await hung; // the first attempt of each run hangs until the test lets go
    return new Response(null, { status: 204 });
  };
  await subscribe(t, r.url);
  await scriptedSession(outboxStore(t.deps), t.clock);
  // a clean stop (SIGTERM): the lease is handed back, a second instance carries on at once
  const first = worker(t.deps, { name: "first", closeGraceMs: 0 }).start();
  while (r.received.length < 1) await new Promise((ok) => setTimeout(ok, 5));
  await first.close();
  await using second = worker(t.deps, { name: "second" });
  const before = r.received.length;
  // a crash: the third worker holds the head message and never settles it; after its lease, a fourth delivers
  const dead = worker(t.deps, { name: "dead" });
  const dying = dead.drain();
  while (r.received.length < before + 1) await new Promise((ok) => setTimeout(ok, 5));
  assert.equal(await second.drain(), 0, "a leased message is not delivered twice at once");
  t.clock.advance(16_000 + 60_000);
  await second.drain();
  release();
  await dying.catch(() => {});
  const ids = r.received.map((x) => x.headers.get("webhook-id"));
  const firstSeen = [...new Set(ids)];
  assert.equal(firstSeen.length, SCRIPTED_TYPES.length, "no message lost");
  assert.deepEqual(
    firstSeen.map((id) => r.received.find((x) => x.headers.get("webhook-id") === id)!.json.type),
    SCRIPTED_TYPES,
  );
});

Deno.test("two workers on one database deliver 1,000 messages to 10 endpoints with 0 duplicates, in order per endpoint", async () => {
  await using t = await app();
  await using r = receiver();
  for (let i = 0; i < 10; i++) await subscribe(t, `${r.url}?ep=${i}`, ["device.event"]);
  for (let n = 0; n < 100; n++) {
    await enqueueEvent(t.deps.db, { type: "device.event", data: { n } }, t.clock.now());
  }
  // on Postgres the second worker has a connection pool of its own, as a second machine would
  let other: DbHandle | undefined;
  if (t.db.kind === "postgres") {
    const url = new URL(Deno.env.get("DATABASE_URL")!);
    url.pathname = new URL(t.db.location).pathname;
    other = await createDb({ url: url.toString(), poolSize: 5 });
  }
  const a = worker(t.deps, { name: "a" }).start();
  const b = worker({ ...t.deps, db: other?.db ?? t.deps.db }, { name: "b" }).start();
  try {
    while (r.received.length < 1000) await new Promise((ok) => setTimeout(ok, 20));
  } finally {
    await a.close();
    await b.close();
    await other?.close();
  }
  const ids = r.received.map((x) => x.headers.get("webhook-id"));
  assert.equal(ids.length, 1000);
  assert.equal(new Set(ids).size, 1000, "0 duplicates");
  const attempts = await t.db.db.select().from(webhookAttempts);
  assert.equal(attempts.length, 1000, "one attempt per message");
  const perEndpoint = Map.groupBy(r.received, (x) => x.url);
  assert.equal(perEndpoint.size, 10);
  for (const [, got] of perEndpoint) {
    assert.deepEqual(got.map((x) => (x.json.data as { n: number }).n), [...Array(100).keys()], "in order");
  }
});

Deno.test("with WEBHOOK_ALLOW_PRIVATE=false, internal targets are refused with 422 at creation and at delivery", async () => {
  await using t = await app({ WEBHOOK_ALLOW_PRIVATE: "false" });
  const internal = [
    "http://127.0.0.1/x",
    "http://127.1.2.3:8080/x",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/x",
    "http://172.16.5.4/x",
    "http://192.168.1.1/x",
    "http://100.64.0.1/x",
    "http://0.0.0.0/x",
    "http://[::1]/x",
    "http://[fd00::1]/x",
    "http://[fe80::1]/x",
    "http://[::ffff:127.0.0.1]/x",
  ];
  for (const url of internal) {
    const res = await t.json("POST", "/api/v1/webhooks", { url, events: ["*"] }, ADMIN);
    assert.equal(res.status, 422, url);
    assert.deepEqual(((await problem(res)).errors as { field: string }[]).map((e) => e.field), ["url"]);
  }
  const listed = await (await t.json("GET", "/api/v1/webhooks", undefined, ADMIN)).json();
  assert.equal(listed.endpoints.length, 0, "nothing was stored");
  assert.equal(blockedRange("93.184.216.34"), undefined, "a public address passes (checked, not contacted)");
  assert.equal(blockedRange("2606:2800:220:1::1"), undefined);
  // a target accepted while private targets were allowed is re-checked before each delivery
  await using open = await app();
  await using r = receiver();
  await subscribe(open, r.url);
  await scriptedSession(outboxStore(open.deps), open.clock);
  await using strict = worker({ ...open.deps, config: t.deps.config });
  assert.equal(await strict.drain(), 1, "the head message was attempted once");
  assert.equal(r.received.length, 0, "and not sent");
  const [head] = await open.db.db.select().from(webhookMessages).orderBy(webhookMessages.id).limit(1);
  assert.match(head.lastError ?? "", /^target refused: resolves to 127\.0\.0\.1, a loopback address/);
  assert.equal(head.status, "pending", "it is tried again later (DNS can change)");
});

Deno.test("rotating a secret signs with the new and the old one for 24 h, then with the new one only", async () => {
  await using t = await app();
  await using r = receiver();
  const ep = await subscribe(t, r.url, ["device.event"]);
  const res = await t.json("POST", `/api/v1/webhooks/${ep.id}/rotate-secret`, undefined, ADMIN);
  assert.equal(res.status, 200);
  const rotated = await res.json();
  assert.notEqual(rotated.secret, ep.secret);
  await enqueueEvent(t.deps.db, { type: "device.event", data: { n: 1 } }, t.clock.now());
  await using w = worker(t.deps);
  await w.drain();
  for (const key of [ep.secret, rotated.secret]) {
    new Webhook(key).verify(r.received[0].body, headersOf(r.received[0]));
  }
  // a day later only the new secret signs (and the reference verifier needs a timestamp near now)
  t.clock.advance(24 * 3600_000 + 1000);
  const sig = await (async () => {
    await enqueueEvent(t.deps.db, { type: "device.event", data: { n: 2 } }, t.clock.now());
    await w.drain();
    return r.received[1].headers.get("webhook-signature")!;
  })();
  assert.equal(sig.split(" ").length, 1);
});

Deno.test("device.claimed, device.released and firmware.released reach a subscription", async () => {
  await using t = await app();
  await using r = receiver();
  await subscribe(t, r.url, ["device.claimed", "device.released", "firmware.released"]);
  const user = await t.login();
  const auth = { authorization: `Bearer ${user.access_token}` };
  const claimed = await t.json("POST", "/api/v1/devices", { imei: "356938035643809" }, auth);
  assert.equal(claimed.status, 201);
  const device = await claimed.json();
  const released = await t.json("DELETE", `/api/v1/devices/${device.id}`, undefined, auth);
  assert.equal(released.status, 204);
  const fw = await t.json("POST", "/api/v1/firmware", {
    device_type: "tracker-x",
    version: "1.2.3",
    url: "https://example.com/fw-1.2.3.bin",
    sha256: "a".repeat(64),
    size: 1024,
  }, ADMIN);
  assert.equal(fw.status, 201, await fw.clone().text());
  await using w = worker(t.deps);
  await w.drain();
  assert.deepEqual(r.received.map((x) => x.json.type), [
    "device.claimed",
    "device.released",
    "firmware.released",
  ]);
  assert.equal((r.received[0].json.data as { device_id: string }).device_id, device.id);
});

Deno.test("a session a restart interrupts sends session.failed, written with its end", async () => {
  await using t = await app();
  await using r = receiver();
  await subscribe(t, r.url, ["session.started", "session.failed"]);
  const store = outboxStore(t.deps);
  const id = crypto.randomUUID();
  const now = t.clock.now();
  await store.create({
    id,
    owner: "api",
    flow: "test-ask-code",
    input: {},
    webhookUrl: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  });
  await store.append(id, 1, {
    events: [{ type: "status", data: { status: "running" } }],
    patch: { status: "running", startedAt: now },
  });
  assert.equal(await markInterrupted(t.deps, { outbox: sessionOutbox(t.deps.config, () => {}) }), 1);
  await using w = worker(t.deps);
  await w.drain();
  assert.deepEqual(r.received.map((x) => x.json.type), ["session.started", "session.failed"]);
  assert.match((r.received[1].json.data as { error: string }).error, /interrupted/i);
});
