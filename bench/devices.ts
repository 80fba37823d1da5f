/**
 * Devices benchmarks, as ratios against a baseline measured in the same run (embedded PGlite in memory):
 * - history: recordDeviceEvent (insert + trim to DEVICE_EVENT_HISTORY) vs a plain insert of the same row;
 * - schedules: claiming due schedules (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)) vs a plain
 *   SELECT of the same due rows;
 * - ussd: parseUssdBalance(decodeUssdText(reply)) vs one regex scan of the same reply.
 * Run: `deno run -A bench/devices.ts` → bench/results/devices.json.
 */
import { createDb } from "../db/client.ts";
import { deviceEvents, devices, deviceSchedules, users } from "../db/schema.ts";
import { asc, lte } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { recordDeviceEvent } from "../src/devices/registry.ts";
import { claimDueSchedules } from "../src/devices/schedules.ts";
import { decodeUssdText, parseUssdBalance } from "../src/devices/ussd.ts";

const EVENTS = 2000;
const SCHEDULES = 2000;
const REPLIES = [
  "Ваш баланс 150.25 руб.",
  "Egyenleg: 2 345 Ft. Ervenyes: 2026.09.30.",
  "Main Bal Rs.123.45, Val 31-12-2026. Dial *121# for offers",
  "موجودی حساب شما ۱۲,۵۰۰ ریال است",
  "Остаток: 312.40 руб., 200 мин и 5 ГБ до 15.03 23:59",
  '+CUSD: 0,"Balance: 12.50 EUR",15',
  "ussd timeout",
  "Your last top-up was 20.00 USD. Balance: 4.75 USD",
];

async function time(fn: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const handle = await createDb({ url: "memory:" });
const { db } = handle;
const config = loadConfig({ DEVICE_EVENT_HISTORY: "100" });
let clockMs = Date.parse("2026-01-01T00:00:00Z");
const clock = { now: () => new Date(clockMs) };
const deps = { db, config, clock };

const [user] = await db.insert(users).values({ phone: "+36201234567", createdAt: clock.now() }).returning();
const [device] = await db.insert(devices).values({
  imei: "356938035643809",
  userId: user.id,
  name: "bench",
  createdAt: clock.now(),
  updatedAt: clock.now(),
}).returning();

// ---- history
const plainMs = await time(async () => {
  for (let i = 0; i < EVENTS; i++) {
    await db.insert(deviceEvents).values({
      deviceId: device.id,
      type: "deviceOnline",
      traccarEventId: 1_000_000 + i,
      attributes: {},
      at: clock.now(),
      createdAt: clock.now(),
    });
  }
});
await db.delete(deviceEvents);
const recordMs = await time(async () => {
  for (let i = 0; i < EVENTS; i++) {
    await recordDeviceEvent(deps, device.id, { type: "deviceOnline", traccarEventId: i, attributes: {} });
  }
});

// ---- schedules
const rows = Array.from({ length: SCHEDULES }, (_, i) => ({
  deviceId: device.id,
  command: { type: "sendUssd", attributes: { phone: "*102#" } },
  everyS: 60,
  nextRunAt: new Date(clockMs + (i % 60) * 1000),
  createdAt: clock.now(),
}));
for (let i = 0; i < rows.length; i += 500) await db.insert(deviceSchedules).values(rows.slice(i, i + 500));
clockMs += 60_000;
const selectMs = await time(async () => {
  for (let i = 0; i < SCHEDULES / 100; i++) {
    await db.select().from(deviceSchedules).where(lte(deviceSchedules.nextRunAt, clock.now()))
      .orderBy(asc(deviceSchedules.nextRunAt)).limit(100);
  }
});
let claimed = 0;
const claimMs = await time(async () => {
  for (;;) {
    const batch = await claimDueSchedules(deps, 100);
    if (batch.length === 0) break;
    claimed += batch.length;
  }
});
if (claimed !== SCHEDULES) throw new Error(`claimed ${claimed} of ${SCHEDULES} schedules`);

// ---- ussd
const ROUNDS = 5000;
const regexMs = await time(() => {
  for (let r = 0; r < ROUNDS; r++) for (const reply of REPLIES) /\d+(?:[.,]\d+)?/.exec(reply);
});
const parseMs = await time(() => {
  for (let r = 0; r < ROUNDS; r++) for (const reply of REPLIES) parseUssdBalance(decodeUssdText(reply));
});

await handle.close();

const result = {
  history: {
    events: EVENTS,
    plain_insert_ms_per_event: plainMs / EVENTS,
    record_and_trim_ms_per_event: recordMs / EVENTS,
    ratio: recordMs / plainMs,
  },
  schedules: {
    schedules: SCHEDULES,
    select_ms_per_100: selectMs / (SCHEDULES / 100),
    claim_ms_per_100: claimMs / (SCHEDULES / 100),
    ratio: claimMs / selectMs,
  },
  ussd: {
    replies: ROUNDS * REPLIES.length,
    regex_us_per_reply: (regexMs * 1000) / (ROUNDS * REPLIES.length),
    parse_us_per_reply: (parseMs * 1000) / (ROUNDS * REPLIES.length),
    ratio: parseMs / regexMs,
  },
};
await Deno.mkdir(new URL("./results", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/devices.json", import.meta.url),
  JSON.stringify(result, null, 2) + "\n",
);
const f = (n: number) => n.toFixed(3);
console.log(
  `history: record+trim ${f(result.history.record_and_trim_ms_per_event)} ms/event vs plain insert ${
    f(result.history.plain_insert_ms_per_event)
  } (×${f(result.history.ratio)})`,
);
console.log(
  `schedules: claim ${f(result.schedules.claim_ms_per_100)} ms/100 due vs select ${
    f(result.schedules.select_ms_per_100)
  } (×${f(result.schedules.ratio)})`,
);
console.log(
  `ussd: parse ${f(result.ussd.parse_us_per_reply)} µs/reply vs one regex ${
    f(result.ussd.regex_us_per_reply)
  } (×${f(result.ussd.ratio)})`,
);
