/**
 * How an update check scales with the size of the catalog, against a one-query baseline in the same run.
 * Run: `deno run -A bench/fota_check.ts` (embedded PGlite); with DATABASE_URL=postgres://…/<throwaway db>
 * for Postgres. Writes bench/results/fota_check.json and prints a summary.
 *
 * Devices poll in steady state (same version every time, as real ones do between updates). The cases run
 * interleaved, round after round, and each reports its median, so load on the machine hits all alike.
 * Target: with 301 releases of its type, a device a couple of releases behind costs < 1.5× a device of a
 * type with one release (checks load only releases newer than the device's, via the sort key).
 */
import { createDb } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { createRelease } from "../src/fota/catalog.ts";
import { createLogger } from "../src/log.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 15);
const PER_ROUND = Number(Deno.env.get("BENCH_PER_ROUND") ?? 40);
const config = loadConfig({
  ENV: "test",
  JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
  API_KEYS: "admin-key",
  LOG_LEVEL: "silent",
});
await using db = await createDb({ url: Deno.env.get("DATABASE_URL") ?? "memory:" });
const deps: Deps = {
  config,
  db: db.db,
  clock: systemClock,
  log: createLogger("silent"),
  events: new EventBus(),
  jwt: new JwtKeys(config.JWT_SECRET!, { issuer: "b", audience: "b", clock: systemClock }),
  sms: { name: "none", send: () => Promise.resolve() },
};
const app = createApp(deps);
const release = (type: string, version: string) =>
  createRelease(deps, {
    device_type: type,
    version,
    url: `https://fw.example/${type}/${version}.bin`,
    sha256: "a".repeat(64),
    size: 1000,
  });
await release("small", "2.0.0");
for (let i = 0; i < 300; i++) await release("large", `1.${Math.floor(i / 10)}.${i % 10}`);
await release("large", "2.0.0");

interface Case {
  label: string;
  path: (device: number) => string;
  status: number;
}
const check = (type: string, version: string, base: number) => (d: number) =>
  `/api/v1/fota/check?imei=${356938030000000 + base + d}&device_type=${type}&version=${version}`;
const cases: Case[] = [
  { label: "baseline: GET /health/detailed (select 1)", path: () => "/health/detailed", status: 200 },
  { label: "check, 1 release, offered", path: check("small", "1.0.0", 0), status: 200 },
  { label: "check, 301 releases, 2 newer, offered", path: check("large", "1.29.8", 10_000), status: 200 },
  { label: "check, 301 releases, 300 newer, offered", path: check("large", "1.0.0", 20_000), status: 200 },
  { label: "check, 301 releases, none newer (204)", path: check("large", "2.0.0", 30_000), status: 204 },
];

async function run(c: Case): Promise<number> {
  const t0 = performance.now();
  for (let d = 0; d < PER_ROUND; d++) {
    const res = await app.request(c.path(d));
    if (res.status !== c.status) throw new Error(`${c.label}: got ${res.status}, expected ${c.status}`);
    await res.body?.cancel();
  }
  return (performance.now() - t0) / PER_ROUND;
}

for (const c of cases) await run(c); // first poll of every device, and warm-up
const samples = cases.map(() => [] as number[]);
for (let r = 0; r < ROUNDS; r++) for (const [i, c] of cases.entries()) samples[i].push(await run(c));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = samples.map((s) => Math.round(median(s) * 1000) / 1000);
const ratio = (a: number, b: number) => Math.round((ms[a] / ms[b]) * 100) / 100;
const result = {
  when: new Date().toISOString(),
  database: db.kind,
  rounds: ROUNDS,
  checks_per_round: PER_ROUND,
  median_ms_per_op: Object.fromEntries(cases.map((c, i) => [c.label, ms[i]])),
  ratios: {
    check_1_release_vs_baseline: ratio(1, 0),
    check_301_releases_2_newer_vs_1_release: ratio(2, 1),
    check_301_releases_300_newer_vs_1_release: ratio(3, 1),
    check_none_newer_vs_1_release: ratio(4, 1),
  },
  target: { check_301_releases_2_newer_vs_1_release: "< 1.5" },
};
const met = result.ratios.check_301_releases_2_newer_vs_1_release < 1.5;
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/fota_check.json", import.meta.url),
  JSON.stringify({ ...result, target_met: met }, null, 2) + "\n",
);
for (const [i, c] of cases.entries()) console.log(`${c.label.padEnd(44)} ${ms[i].toFixed(3)} ms/op (median)`);
console.log(result.ratios);
console.log(met ? "target met" : "TARGET MISSED");
