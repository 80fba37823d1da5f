/**
 * Session benchmark: `deno run -A bench/sessions.ts [--runs 15]`.
 *
 * 1. Time to first prompt: median time from `POST /api/v1/sessions` until a long-poll
 *    (`GET /api/v1/sessions/:id?wait=…`) returns the prompt of a flow that opens a local page and asks a
 *    code, over real HTTP. Baseline in the same run: the browser floor, puppeteer alone doing
 *    createBrowserContext + newPage + goto of the same page. Reported as a ratio (engine / floor).
 *    The engine keeps BROWSER_WARM_PAGES (2) warm pages, so a session skips creating its context and page.
 * 2. Memory per waiting session: RSS (and PSS) of all Chromium processes plus the Deno heap, with 1 and
 *    with 8 sessions waiting at their prompt; per session = (mem(8) − mem(1)) / 7.
 * 3. The old way, as the seeds ran: a browser launched per session (Debian's full `chromium`): launch + page +
 *    goto of the same page, median ms, and PSS per session with 8 such browsers open; both as ratios to (1)
 *    and (2).
 *
 * Writes bench/results/sessions.json and prints a summary.
 */
import type { Browser } from "puppeteer-core";
import { z } from "zod";
import { createDb } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import { defineFlow, type Flow } from "../src/automation/flow.ts";
import { createAutomation } from "../src/automation/mod.ts";
import { findChrome } from "../src/automation/chrome.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { createLogger } from "../src/log.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { launchLikePool } from "./lib/browser.ts";
import { treePss } from "./lib/server_tree.ts";

const runs = Number(Deno.args[Deno.args.indexOf("--runs") + 1]) || 15;
const N = 8;

const page = `<!doctype html><title>Bench portal</title><form><input id="code"><button>Go</button></form>`;
const portal = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  () => new Response(page, { headers: { "content-type": "text/html" } }),
);
const portalUrl = `http://127.0.0.1:${portal.addr.port}`;

const askFlow = defineFlow({
  name: "bench-ask",
  title: "Bench",
  description: "Opens a local page, then asks a code",
  input: z.object({}),
  async run(ctx) {
    await ctx.page.goto(`${portalUrl}/login`);
    return { code: await ctx.ask({ kind: "code", message: "Code?" }) };
  },
});

const config = loadConfig({
  ENV: "test",
  JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
  API_KEYS: "bench-key",
  LOG_LEVEL: "silent",
  MAX_SESSIONS: String(N),
});
const database = await createDb({ url: "memory:" });
const log = createLogger("silent");
const base: Deps = {
  config,
  db: database.db,
  clock: systemClock,
  log,
  events: new EventBus(),
  jwt: new JwtKeys(config.JWT_SECRET!, {
    issuer: "gatehouse",
    audience: "gatehouse-api",
    clock: systemClock,
  }),
  sms: smsFromConfig(config),
};
const automation = createAutomation(base, { flows: [askFlow as Flow], portalUrl });
const deps: Deps = { ...base, automation };
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, createApp(deps).fetch);
const api = `http://127.0.0.1:${server.addr.port}/api/v1`;
const headers = { "x-api-key": "bench-key", "content-type": "application/json" };

/** Starts a session over HTTP and long-polls until its prompt; returns its id and the elapsed ms. */
async function startToPrompt(): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${api}/sessions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ flow: "bench-ask" }),
  });
  if (res.status !== 201) throw new Error(`POST /sessions: ${res.status} ${await res.text()}`);
  let s = await res.json();
  while (!s.prompt) {
    const r = await fetch(`${api}/sessions/${s.id}?wait=30&after=${s.seq}`, { headers });
    s = await r.json();
    if (s.finished_at) throw new Error(`session ended: ${s.status} ${s.error}`);
  }
  return { id: s.id, ms: performance.now() - t0 };
}

async function cancel(id: string) {
  await (await fetch(`${api}/sessions/${id}`, { method: "DELETE", headers })).body?.cancel();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

// ---- 1. time to first prompt, interleaved with the baseline so both see the same machine state.
// Baseline: puppeteer alone on its own browser with the same flags.
const chrome = await findChrome(config.CHROME_PATH);
const raw = await launchLikePool(chrome);
async function floor(): Promise<number> {
  const t0 = performance.now();
  const ctx = await raw.createBrowserContext();
  const p = await ctx.newPage();
  await p.goto(`${portalUrl}/login`);
  const ms = performance.now() - t0;
  await ctx.close();
  return ms;
}
// Warm-up (the first session launches the engine's browser): not counted.
await cancel((await startToPrompt()).id);
await floor();
const engineMs: number[] = [];
const floorMs: number[] = [];
const settle = () => new Promise((r) => setTimeout(r, 400)); // the warm-page refill ends before the next run
for (let i = 0; i < runs; i++) {
  await settle();
  const { id, ms } = await startToPrompt();
  engineMs.push(ms);
  await cancel(id);
  await settle();
  floorMs.push(await floor());
}
await raw.close();

// ---- 2. memory per waiting session
async function memory(): Promise<{ chromium_rss_mb: number; chromium_pss_mb: number; deno_heap_mb: number }> {
  await new Promise((r) => setTimeout(r, 1500)); // let renderers settle
  // deno-lint-ignore no-explicit-any
  (globalThis as any).gc?.();
  const { rssKb, pssKb } = await treePss(automation.pool.browser!.process()!.pid!);
  return {
    chromium_rss_mb: rssKb / 1024,
    chromium_pss_mb: pssKb / 1024,
    deno_heap_mb: Deno.memoryUsage().heapUsed / 2 ** 20,
  };
}
const waiting: string[] = [(await startToPrompt()).id];
const mem1 = await memory();
while (waiting.length < N) waiting.push((await startToPrompt()).id);
const memN = await memory();
for (const id of waiting) await cancel(id);

// ---- 3. the old way: a browser launched per session (as the seeds did, with Debian's full Chromium)
const oldChrome = await findChrome("/usr/bin/chromium").catch(() => chrome);
async function browserPerSession(): Promise<{ browser: Browser; ms: number }> {
  const t0 = performance.now();
  const browser = await launchLikePool(oldChrome);
  const p = await browser.newPage();
  await p.goto(`${portalUrl}/login`);
  return { browser, ms: performance.now() - t0 };
}
const oldMs: number[] = [];
for (let i = 0; i < Math.min(runs, 8); i++) {
  const { browser, ms } = await browserPerSession();
  oldMs.push(ms);
  await browser.close();
}
const oldBrowsers = [];
for (let i = 0; i < N; i++) oldBrowsers.push((await browserPerSession()).browser);
await new Promise((r) => setTimeout(r, 1500));
let oldPssKb = 0;
for (const b of oldBrowsers) oldPssKb += (await treePss(b.process()!.pid!)).pssKb;
const oldPssMb = oldPssKb / 1024 / N;
for (const b of oldBrowsers) await b.close();

const total = (m: typeof mem1, k: "chromium_rss_mb" | "chromium_pss_mb") => m[k] + m.deno_heap_mb;
const result = {
  command: "npx -y deno@2 run -A --v8-flags=--expose-gc bench/sessions.ts",
  date: new Date().toISOString(),
  machine: { cores: navigator.hardwareConcurrency, chromium: await automation.pool.browser!.version() },
  runs,
  time_to_first_prompt: {
    engine_median_ms: round(median(engineMs)),
    browser_floor_median_ms: round(median(floorMs)),
    ratio: round(median(engineMs) / median(floorMs), 2),
    engine_ms: engineMs.map((x) => round(x)),
    floor_ms: floorMs.map((x) => round(x)),
  },
  memory: {
    n: N,
    with_1: objRound(mem1),
    [`with_${N}`]: objRound(memN),
    per_waiting_session_rss_mb: round(
      (total(memN, "chromium_rss_mb") - total(mem1, "chromium_rss_mb")) / (N - 1),
    ),
    per_waiting_session_pss_mb: round(
      (total(memN, "chromium_pss_mb") - total(mem1, "chromium_pss_mb")) / (N - 1),
    ),
  },
  browser_per_session: {
    chromium: oldChrome,
    time_to_page_median_ms: round(median(oldMs)),
    time_ratio_to_gatehouse: round(median(oldMs) / median(engineMs), 2),
    pss_per_session_mb: round(oldPssMb),
    memory_ratio_to_gatehouse: 0,
  },
};
result.browser_per_session.memory_ratio_to_gatehouse = round(
  oldPssMb / result.memory.per_waiting_session_pss_mb,
  2,
);
function objRound(o: Record<string, number>) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
}

await server.shutdown();
await automation.close();
await database.close();
await portal.shutdown();

await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/sessions.json", import.meta.url),
  JSON.stringify(result, null, 2) + "\n",
);
const t = result.time_to_first_prompt;
console.log(
  `time to first prompt: median ${t.engine_median_ms} ms (browser floor ${t.browser_floor_median_ms} ms, ` +
    `ratio ${t.ratio}) over ${runs} runs`,
);
const old = result.browser_per_session;
console.log(
  `a browser per session (${old.chromium}): launch + page + goto ${old.time_to_page_median_ms} ms ` +
    `(${old.time_ratio_to_gatehouse}x gatehouse's first prompt), ${old.pss_per_session_mb} MB PSS each ` +
    `(${old.memory_ratio_to_gatehouse}x gatehouse's waiting session)`,
);
console.log(
  `memory per waiting session: ${result.memory.per_waiting_session_rss_mb} MB RSS ` +
    `(${result.memory.per_waiting_session_pss_mb} MB PSS), Chromium + Deno heap, N=1 vs N=${N}`,
);
