/**
 * Webhook benchmark: `deno run -A bench/webhooks.ts [--messages 2000] [--steps 300]`, on in-memory PGlite
 * (or DATABASE_URL when it names Postgres).
 *
 * 1. Delivery throughput: messages/s from the outbox to a local receiver (10 endpoints, one worker, and
 *    two workers on the same database), from the first claim until the receiver has them all.
 * 2. Added latency of a session step: median and p95 of `SessionStore.append` of one progress event with
 *    the outbox write (one subscription plus the session's webhook_url: 2 messages per step) against
 *    the same append without an outbox, interleaved in one run. Reported as a ratio.
 *
 * Writes bench/results/webhooks.json and prints a summary.
 */
import { createDb } from "../db/client.ts";
import { webhookEndpoints } from "../db/schema.ts";
import { SessionStore } from "../src/automation/session_store.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createWebhookWorker, secretBoxOf, sessionOutbox } from "../src/webhooks/mod.ts";
import { enqueueEvent, rowsOf } from "../src/webhooks/outbox.ts";

const arg = (name: string, def: number) => Number(Deno.args[Deno.args.indexOf(`--${name}`) + 1]) || def;
const MESSAGES = arg("messages", 2000);
const STEPS = arg("steps", 300);
const url = Deno.env.get("DATABASE_URL");

const config = loadConfig({
  ENV: "test",
  LOG_LEVEL: "silent",
  JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
  WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
});
const log = createLogger("silent");
let received = 0;
const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
  await req.arrayBuffer();
  received++;
  return new Response(null, { status: 204 });
});
const hook = `http://127.0.0.1:${receiver.addr.port}/hook`;

async function freshDb() {
  return await createDb({ url: url?.startsWith("postgres") ? url : "memory:" });
}

async function addEndpoints(db: Awaited<ReturnType<typeof freshDb>>["db"], n: number, events: string[]) {
  const box = secretBoxOf(config);
  const now = new Date();
  for (let i = 0; i < n; i++) {
    await db.insert(webhookEndpoints).values({
      url: `${hook}?ep=${i}`,
      events,
      secretSealed: box.seal(`whsec_${btoa(`endpoint secret number ${i} padded...`)}`),
      createdAt: now,
      updatedAt: now,
    });
  }
}

async function throughput(workers: number): Promise<number> {
  await using handle = await freshDb();
  const db = handle.db;
  await db.execute("truncate webhook_endpoints, webhook_messages, webhook_attempts cascade");
  await addEndpoints(db, 10, ["device.event"]);
  for (let n = 0; n < MESSAGES / 10; n++) {
    await enqueueEvent(db, { type: "device.event", data: { n } }, systemClock.now());
  }
  received = 0;
  const start = performance.now();
  const ws = Array.from(
    { length: workers },
    (_, i) =>
      createWebhookWorker({ db, clock: systemClock, log, config }, { name: `b${i}`, pollMs: 5 }).start(),
  );
  while (received < MESSAGES) await new Promise((ok) => setTimeout(ok, 2));
  const seconds = (performance.now() - start) / 1000;
  for (const w of ws) await w.close();
  return MESSAGES / seconds;
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { median_ms: s[Math.floor(s.length / 2)], p95_ms: s[Math.floor(s.length * 0.95)] };
}

async function stepLatency() {
  await using handle = await freshDb();
  const db = handle.db;
  await db.execute("truncate webhook_endpoints, webhook_messages, webhook_attempts cascade");
  await addEndpoints(db, 1, ["session.progress"]);
  const plain = new SessionStore({ db, clock: systemClock });
  const withOutbox = new SessionStore({ db, clock: systemClock, outbox: sessionOutbox(config, () => {}) });
  const ids = { plain: crypto.randomUUID(), outbox: crypto.randomUUID() };
  for (const id of Object.values(ids)) {
    const now = new Date();
    await plain.create({
      id,
      owner: "api",
      flow: "bench",
      input: {},
      webhookUrl: hook,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 3600_000),
    });
  }
  const seq = { plain: 1, outbox: 1 };
  const times = { plain: [] as number[], outbox: [] as number[] };
  for (let i = 0; i < STEPS + 20; i++) {
    for (const kind of (i % 2 ? ["plain", "outbox"] : ["outbox", "plain"]) as ("plain" | "outbox")[]) {
      const store = kind === "plain" ? plain : withOutbox;
      const t0 = performance.now();
      seq[kind] += (await store.append(ids[kind], seq[kind], {
        events: [{ type: "progress", data: { percentage: i % 100, key: "step", value: `s${i}` } }],
        patch: { progress: i % 100 },
      })).length;
      if (i >= 20) times[kind].push(performance.now() - t0); // the first 20 warm up
    }
  }
  const [{ count }] = rowsOf<{ count: number }>(
    await db.execute("select count(*)::int as count from webhook_messages"),
  );
  return { plain: stats(times.plain), outbox: stats(times.outbox), messages_written: count };
}

const one = await throughput(1);
const two = await throughput(2);
const step = await stepLatency();
const result = {
  measured_at: new Date().toISOString(),
  database: url?.startsWith("postgres") ? "postgres" : "pglite (memory)",
  messages: MESSAGES,
  delivery_messages_per_s: { one_worker: Math.round(one), two_workers: Math.round(two) },
  session_step: {
    steps: STEPS,
    without_outbox: step.plain,
    with_outbox: step.outbox,
    median_ratio: Number((step.outbox.median_ms / step.plain.median_ms).toFixed(2)),
    added_median_ms: Number((step.outbox.median_ms - step.plain.median_ms).toFixed(3)),
  },
};
await receiver.shutdown();
const out = new URL("./results/webhooks.json", import.meta.url).pathname;
await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
