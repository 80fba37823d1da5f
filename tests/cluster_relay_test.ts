/** cluster: a follower on another instance is woken by the LISTEN/NOTIFY relay, not by polling. */
import assert from "node:assert/strict";
import { createDb, type DbHandle } from "../db/client.ts";
import { Follower } from "../src/automation/follow.ts";
import { EventHub, type SessionEvent } from "../src/automation/hub.ts";
import { SessionRelay } from "../src/automation/relay.ts";
import { SessionStore } from "../src/automation/session_store.ts";
import { createLogger } from "../src/log.ts";
import { FakeClock, testDb } from "./helpers.ts";

Deno.test("events stored on instance A reach a follower on instance B through the relay, without polling", async () => {
  await using db = await testDb();
  let own: DbHandle | undefined;
  if (db.kind === "postgres") {
    const url = new URL(Deno.env.get("DATABASE_URL")!);
    url.pathname = new URL(db.location).pathname;
    own = await createDb({ url: url.toString(), poolSize: 3 });
  }
  const handleB = own ?? db;
  try {
    const log = createLogger("silent");
    const clock = new FakeClock();
    const storeA = new SessionStore({ db: db.db, clock });
    const hubA = new EventHub();
    const hubB = new EventHub();
    await using relayA = new SessionRelay(hubA, db, log);
    await using relayB = new SessionRelay(hubB, handleB, log);
    await relayA.listen();
    await relayB.listen();
    const id = crypto.randomUUID();
    await storeA.create({
      id,
      owner: "admin",
      flow: "test",
      input: {},
      webhookUrl: null,
      createdAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + 60_000),
    });
    // B polls only every ten minutes: anything B sees sooner came through the relay.
    const followerB = new Follower({
      store: new SessionStore({ db: handleB.db, clock }),
      hub: hubB,
      log,
      isLocal: () => false,
      currentImage: () => undefined,
      remotePollMs: 600_000,
    });
    const stop = new AbortController();
    const seen: SessionEvent[] = [];
    const iterator = followerB.follow(id, { after: 0, signal: stop.signal });
    const first = await iterator.next();
    seen.push(first.value as SessionEvent);
    assert.equal(seen[0].seq, 1);
    const waiting = iterator.next(); // now parked until woken
    while (hubB.followers(id) === 0) await new Promise((r) => setTimeout(r, 5));
    for (const [i, status] of ["running", "succeeded"].entries()) {
      const stored = await storeA.append(id, 1 + i, {
        events: [{ type: "status", data: { status } }],
        patch: { status: status as "running" },
      });
      for (const e of stored) hubA.publish(id, e);
    }
    const second = await waiting;
    seen.push(second.value as SessionEvent);
    for await (const e of { [Symbol.asyncIterator]: () => iterator }) seen.push(e);
    assert.deepEqual(seen.map((e) => [e.seq, e.type, e.data.status]), [
      [1, "status", "queued"],
      [2, "status", "running"],
      [3, "status", "succeeded"],
    ]);
    assert.equal(seen.some((e) => e.type === "wake"), false, "wake-ups are never shown to followers");
    stop.abort();
  } finally {
    await own?.close();
  }
});
