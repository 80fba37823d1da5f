/**
 * The session core without a browser: the store's SQL on the real database, the status machine, the
 * admission queue, and the one follow API (replay after a seq, then live, then end).
 */
import assert from "node:assert/strict";
import { Follower } from "../src/automation/follow.ts";
import { EventHub, type SessionEvent } from "../src/automation/hub.ts";
import { BrowserSlots } from "../src/automation/session_queue.ts";
import { SessionStore } from "../src/automation/session_store.ts";
import { canMove, IllegalTransitionError } from "../src/automation/status.ts";
import { TooManyRequestsError } from "../src/errors.ts";
import { createLogger } from "../src/log.ts";
import { FakeClock, testDb } from "./helpers.ts";

async function storeWithSession(flow = "f") {
  const handle = await testDb();
  const clock = new FakeClock();
  const store = new SessionStore({ db: handle.db, clock });
  const id = crypto.randomUUID();
  const now = clock.now();
  await store.create({
    id,
    owner: "admin",
    flow,
    input: {},
    webhookUrl: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  });
  return { handle, clock, store, id, [Symbol.asyncDispose]: () => handle.close() };
}

Deno.test("the store numbers appended events after the given seq and updates the row in one write", async () => {
  await using s = await storeWithSession();
  const stored = await s.store.append(s.id, 1, {
    events: [{ type: "status", data: { status: "running" } }, { type: "progress", data: { percentage: 5 } }],
    patch: { status: "running", progress: 5 },
  });
  assert.deepEqual(stored.map((e) => [e.seq, e.type]), [[2, "status"], [3, "progress"]]);
  const row = await s.store.row(s.id);
  assert.deepEqual([row.status, row.progress, row.seq], ["running", 5, 3]);
  assert.deepEqual((await s.store.events(s.id, 1)).map((e) => e.seq), [2, 3]);
  await assert.rejects(
    s.store.append(s.id, 1, { events: [{ type: "x", data: {} }] }),
    "a seq is never reused",
  );
  assert.equal((await s.store.row(s.id)).seq, 3, "the failed append changed nothing");
});

Deno.test("the store lists by flow and by ids in one query, and an empty id list finds nothing", async () => {
  await using s = await storeWithSession("booking");
  assert.deepEqual((await s.store.list({ flow: "booking" })).map((r) => r.id), [s.id]);
  assert.deepEqual((await s.store.list({ flow: "other" })).length, 0);
  assert.deepEqual((await s.store.list({ ids: [s.id, "not-a-uuid"] })).map((r) => r.id), [s.id]);
  assert.deepEqual(await s.store.list({ ids: [] }), []);
});

Deno.test("endActive ends only the named active sessions, with an error and a final status event", async () => {
  await using s = await storeWithSession();
  assert.deepEqual(await s.store.endActive({ status: "cancelled", error: null, ids: [] }), []);
  assert.equal((await s.store.row(s.id)).status, "queued", "an empty id list ends nothing");
  assert.deepEqual(await s.store.endActive({ status: "failed", error: "boom", ids: [s.id] }), [s.id]);
  const events = await s.store.events(s.id);
  assert.deepEqual(events.map((e) => [e.seq, e.type]), [[1, "status"], [2, "error"], [3, "status"]]);
  assert.deepEqual(events[2].data, { status: "failed", error: "boom" });
  assert.deepEqual(await s.store.endActive({ status: "failed", error: "again", ids: [s.id] }), []);
});

Deno.test("the status machine allows a session's normal life and refuses moves out of an end", () => {
  assert.ok(canMove("queued", "running"));
  assert.ok(canMove("running", "waiting"));
  assert.ok(canMove("waiting", "running"));
  assert.ok(canMove("waiting", "cancelled"));
  assert.ok(!canMove("queued", "waiting"), "a queued session has no page to prompt from");
  assert.ok(!canMove("succeeded", "failed"));
  assert.ok(!canMove("cancelled", "running"));
  assert.match(
    new IllegalTransitionError("expired", "running").message,
    /cannot move from expired to running/,
  );
});

Deno.test("admission counts the service-wide queue plus this instance's free slots, then answers 429", () => {
  const slots = new BrowserSlots({ maxRunning: 1, maxQueue: 1 });
  slots.admit(0);
  slots.admit(1); // one free slot here will claim one of them at once
  assert.throws(
    () => slots.admit(2),
    (e) =>
      e instanceof TooManyRequestsError && e.headers["retry-after"] === "10" &&
      /\(0 of 1 running, 2 of 1 queued\)/.test(e.message),
  );
  assert.equal(slots.hold(), 1);
  assert.equal(slots.free(), 0);
  slots.add("a");
  slots.unhold(1);
  assert.throws(() => slots.admit(1), TooManyRequestsError);
  slots.remove("a");
  assert.deepEqual(slots.load(), { running: 0, max: 1, maxQueue: 1 });
});

Deno.test("follow replays after a seq, goes live without gaps or repeats, and ends after the final status", async () => {
  await using s = await storeWithSession();
  const hub = new EventHub();
  let local = true;
  const follower = new Follower({
    store: s.store,
    hub,
    log: createLogger("silent"),
    isLocal: () => local,
    currentImage: () => undefined,
  });
  let seq = 1;
  const append = async (type: string, data: Record<string, unknown>) => {
    const patch = type === "status" ? { status: String(data.status) } : {};
    const [event] = await s.store.append(s.id, seq, { events: [{ type, data }], patch });
    seq = event.seq;
    hub.publish(s.id, event);
  };
  await append("progress", { percentage: 1 });
  const seen: SessionEvent[] = [];
  const done = (async () => {
    for await (const e of follower.follow(s.id, { after: 1 })) seen.push(e);
  })();
  await append("progress", { percentage: 2 });
  hub.publish(s.id, { seq, type: "image", data: {}, at: "", ephemeral: true });
  await append("status", { status: "succeeded" });
  await done;
  assert.deepEqual(seen.filter((e) => !e.ephemeral).map((e) => e.seq), [2, 3, 4]);
  assert.equal(seen.at(-1)!.data.status, "succeeded", "the follow ended with the final status");

  local = false; // a session that has ended (or runs elsewhere) is read from the database and ends too
  const replay: number[] = [];
  for await (const e of follower.follow(s.id, { after: 0 })) replay.push(e.seq);
  assert.deepEqual(replay, [1, 2, 3, 4]);
  const nothingLeft: number[] = [];
  for await (const e of follower.follow(s.id, { after: 4 })) nothingLeft.push(e.seq);
  assert.deepEqual(nothingLeft, []);
});

Deno.test("waitForEvent wakes on the next stored event, not on an image frame, and gives up on abort", async () => {
  await using s = await storeWithSession();
  const hub = new EventHub();
  const follower = new Follower({
    store: s.store,
    hub,
    log: createLogger("silent"),
    isLocal: () => true,
    currentImage: () => undefined,
  });
  let woke = false;
  const waiting = follower.waitForEvent(s.id, 1, 60_000).then(() => (woke = true));
  hub.publish(s.id, { seq: 1, type: "image", data: {}, at: "", ephemeral: true });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(woke, false, "an image frame does not advance seq");
  const [event] = await s.store.append(s.id, 1, { events: [{ type: "progress", data: {} }] });
  hub.publish(s.id, event);
  await waiting;
  assert.equal(woke, true);
  const stop = new AbortController();
  const aborted = follower.waitForEvent(s.id, 2, 60_000, stop.signal);
  stop.abort();
  await aborted;
});

Deno.test("placement: claims take the oldest unclaimed sessions once, release hands them back, in place order", async () => {
  await using s = await storeWithSession();
  const second = crypto.randomUUID();
  s.clock.advance(1);
  const now = s.clock.now();
  await s.store.create({
    id: second,
    owner: "admin",
    flow: "f",
    input: {},
    webhookUrl: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  }, (queued) => (assert.equal(queued, 1), null));
  assert.equal(await s.store.queue.queuePosition(await s.store.row(second)), 2);
  const [a, b] = await Promise.all([s.store.queue.claim("A", 1), s.store.queue.claim("B", 1)]);
  assert.deepEqual([...a, ...b].map((r) => r.id).sort(), [s.id, second].sort(), "each row claimed once");
  assert.equal(await s.store.queue.queuePosition(await s.store.row(second)), 0, "claimed: out of the line");
  assert.equal(await s.store.queue.release("A"), 1);
  assert.equal(await s.store.queue.releaseOrphans(["A"]), 1, "B is gone: its claim goes back");
  assert.deepEqual((await s.store.queue.claim("C", 5)).map((r) => r.id), [s.id, second], "oldest first");
});

Deno.test("placement: a session waiting in the queue is extended in SQL; a claimed one is not", async () => {
  await using s = await storeWithSession();
  const before = (await s.store.row(s.id)).expiresAt.getTime();
  const event = await s.store.queue.extendQueued(s.id, 30);
  assert.equal(event?.type, "extended");
  assert.equal(event?.seq, 2);
  const row = await s.store.row(s.id);
  assert.deepEqual([row.seq, row.expiresAt.getTime()], [2, before + 30_000]);
  assert.deepEqual((await s.store.events(s.id, 1)).map((e) => [e.seq, e.type]), [[2, "extended"]]);
  await s.store.queue.claim("A", 1);
  assert.equal(
    await s.store.queue.extendQueued(s.id, 30),
    null,
    "claimed: the instance running it extends it",
  );
});
