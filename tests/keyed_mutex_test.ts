/** KeyedMutex (one per app: device claims) and the per-app objects createApp fills in. */
import { EventBus } from "../src/events.ts";
import assert from "node:assert/strict";
import { type Deps, withAppDefaults } from "../src/deps.ts";
import { KeyedMutex } from "../src/keyed_mutex.ts";

/** A promise and its resolve function. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("KeyedMutex runs work of one key one at a time, in order, while other keys run alongside", async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  const gate = deferred();
  const first = mutex.run("k", async () => {
    log.push("first start");
    await gate.promise;
    log.push("first end");
  });
  const second = mutex.run("k", () => Promise.resolve(log.push("second")));
  await mutex.run("other", () => Promise.resolve(log.push("other")));
  assert.deepEqual(log, ["first start", "other"], "another key does not wait");
  gate.resolve();
  await Promise.all([first, second]);
  assert.deepEqual(log, ["first start", "other", "first end", "second"]);
  assert.equal(mutex.size, 0);
});

Deno.test("KeyedMutex: a failed run rejects its caller only, and the next run of its key goes ahead", async () => {
  const mutex = new KeyedMutex();
  const failing = mutex.run("k", () => Promise.reject(new Error("boom")));
  const next = mutex.run("k", () => Promise.resolve("ran"));
  await assert.rejects(failing, /boom/);
  assert.equal(await next, "ran");
});

Deno.test("each app gets its own claim locks and start time unless deps inject them", () => {
  const deps = { events: new EventBus() } as unknown as Deps; // only the per-app fields (and the bus) are read
  const a = withAppDefaults(deps), b = withAppDefaults(deps);
  assert.notEqual(a.claimLocks, b.claimLocks, "two apps in one process share no locks");
  const injected = new KeyedMutex();
  const c = withAppDefaults({ ...deps, claimLocks: injected, startedAt: 42 });
  assert.equal(c.claimLocks, injected);
  assert.equal(c.startedAt, 42);
});
