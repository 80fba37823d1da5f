/**
 * The soak's server process (run by tests/soak_test.ts, never imported): the served app with the built-in flows
 * and the demo portal, its own browser pool, and `SOAK_SESSIONS` demo vehicle lookups in a row, each answered
 * with the SMS code the demo portal shows. It runs in a process of its own so that `deno test --parallel`
 * siblings do not count in its descriptors and RSS. Prints one JSON line: the measurements after a full GC
 * at session 20, every 20th and the last, and the browser contexts left open.
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { ADMIN, testPool } from "./automation_fixtures.ts";
import { ended, type Json, servedApp } from "./e2e_fixtures.ts";

// A full GC before each measurement, so RSS is compared after GC, not at a random point of V8's sawtooth
// (±15% between two sessions otherwise). node:v8 turns the flag on; node:vm hands over gc().
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** One sample: sessions done, open descriptors, RSS and V8 heap bytes, after a full GC. */
export interface SoakSample {
  n: number;
  fds: number;
  rss: number;
  heap: number;
}

function measure(n: number): SoakSample {
  gc();
  gc();
  const m = Deno.memoryUsage();
  return { n, fds: [...Deno.readDirSync("/proc/self/fd")].length, rss: m.rss, heap: m.heapUsed };
}

const total = Number(Deno.args[0] ?? 200);
const pool = testPool();
const samples: SoakSample[] = [];
const started = performance.now();
let contexts: { open: number; browser: number };
try {
  await using a = await servedApp(pool, { MAX_SESSIONS_PER_API_KEY: "0" });
  for (let n = 1; n <= total; n++) {
    const res = await a.call("POST", "/api/v1/sessions", {
      flow: "vehicle-lookup",
      input: { plate: "ABC123" },
    }, ADMIN);
    assert.equal(res.status, 201);
    const { id } = await res.json() as Json;
    let view = await a.automation.sessions.get(id);
    while (!view.prompt && !view.finished_at) {
      view = await a.automation.sessions.waitForEvent(id, view.seq, 30_000);
    }
    assert.equal(view.prompt?.kind, "code", `session ${n}: ${view.status} ${view.error ?? ""}`);
    const code = (await a.debug()).sms.at(-1)!.code;
    const answer = await a.call("POST", `/api/v1/sessions/${id}/input`, {
      prompt: view.prompt!.id,
      value: code,
    }, ADMIN);
    assert.equal(answer.status, 202);
    await answer.body?.cancel();
    const end = await ended(a.automation.sessions, id);
    assert.equal(end.status, "succeeded", `session ${n}: ${end.error ?? ""}`);
    if (n === 20 || n % 20 === 0 || n === total) samples.push(measure(n));
  }
  contexts = { open: pool.openContexts, browser: pool.browser!.browserContexts().length };
} finally {
  await pool.close();
}
const seconds = Math.round((performance.now() - started) / 1000);
console.log(JSON.stringify({ total, seconds, samples, contexts }));
