/**
 * Sessions at scale: `deno run -A bench/burst.ts [--burst=50] [--rounds=3] [--density=50,200]`.
 *
 * A real server (`src/main.ts`, its own DATA_DIR or a fresh database on the local Postgres, the built-in demo
 * portal) is started as a child process for each setup below; then:
 *  1. Burst: `--burst` vehicle-lookup sessions are started at once over HTTP; each client long-polls its
 *     session until the 2FA prompt. p50/p95/max time to first prompt per round (the median round is
 *     reported), and the CPU each kind of process used in it (server, Chromium's browser, renderers, GPU…:
 *     utime+stime from /proc): the profile that says what a burst waits for on this machine.
 *     Setups: headless shell on PGlite (the default), on Postgres, on Postgres with a warm stock of a burst's
 *     worth of pages made before each round (BROWSER_WARM_PAGES=--burst: their CPU is spent before the burst,
 *     not in it), and Debian's full `chromium` on Postgres (what gatehouse launched before issue 16).
 *  2. Density (headless shell, Postgres): for each N of `--density`, N sessions are brought to their prompt
 *     (in waves of 25) and left waiting; the PSS of the whole process tree (server + Chromium,
 *     /proc/<pid>/smaps_rollup) with 0 and with N waiting: per session = (pss(N) − pss(0)) / N. With N
 *     waiting, /health and one more session's first prompt are timed (the server still answers).
 *
 * Writes bench/results/burst.json (or --out) and prints a summary. Goals (issue 16): burst p95 ≤ 4 s,
 * ≤ 20 MB PSS per waiting session.
 */
import { type BenchServer, type Sample, startBenchServer, treeCpu, treePss } from "./lib/server_tree.ts";

const arg = (name: string, dflt: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const BURST = Number(arg("burst", "50"));
const ROUNDS = Number(arg("rounds", "3"));
const DENSITY = arg("density", "50,200").split(",").filter(Boolean).map(Number);
const OUT = arg("out", new URL("results/burst.json", import.meta.url).pathname);
const FULL_CHROMIUM = "/usr/bin/chromium";
const LOAD_BEFORE = Deno.loadavg();

const maxN = Math.max(BURST, ...DENSITY) + 10;
const start = (db: string, chrome?: string, warm?: number) =>
  startBenchServer({
    db,
    env: {
      ...(chrome ? { CHROME_PATH: chrome } : {}),
      ...(warm ? { BROWSER_WARM_PAGES: String(warm) } : {}),
      MAX_SESSIONS: String(maxN),
      MAX_QUEUE: "32",
      MAX_SESSIONS_PER_API_KEY: String(maxN + 32),
      SESSION_PROMPT_TIMEOUT_S: "900",
      SESSION_MAX_S: "1800",
    },
  });
let server: BenchServer;

/** Starts a vehicle-lookup session and long-polls it to its first prompt; answers its id and elapsed ms. */
async function toPrompt(): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${server.api}/sessions`, {
    method: "POST",
    headers: server.headers,
    body: JSON.stringify({ flow: "vehicle-lookup", input: { plate: "ABC123" } }),
  });
  if (res.status !== 201) throw new Error(`POST /sessions: ${res.status} ${await res.text()}`);
  let s = await res.json();
  while (!s.prompt) {
    const r = await fetch(`${server.api}/sessions/${s.id}?wait=60&after=${s.seq}`, {
      headers: server.headers,
    });
    s = await r.json();
    if (s.finished_at) throw new Error(`session ended: ${s.status} ${s.error}`);
  }
  return { id: s.id, ms: performance.now() - t0 };
}

async function cancelAll(ids: string[]) {
  await Promise.all(ids.map(async (id) => {
    await (await fetch(`${server.api}/sessions/${id}`, { method: "DELETE", headers: server.headers })).body
      ?.cancel();
  }));
  // Wait until the server holds no running session (contexts closed) before the next step.
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${server.api}/sessions?status=running,waiting,queued&limit=1`, {
      headers: server.headers,
    });
    const body = await r.json();
    if (body.sessions.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1500));
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** One burst of BURST sessions: time to first prompt (p50/p95/max) and CPU ms per kind of process. */
async function burstRound() {
  const cpu0 = treeCpu(server.pid);
  const burst = await Promise.all(Array.from({ length: BURST }, () => toPrompt()));
  const cpu1 = treeCpu(server.pid);
  const times = burst.map((b) => b.ms);
  await cancelAll(burst.map((b) => b.id));
  const cpu = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, Math.round(v - (cpu0[k] ?? 0))]));
  const cpuTotal = Object.values(cpu).reduce((x, y) => x + y, 0);
  return {
    p50_ms: r1(pct(times, 50)),
    p95_ms: r1(pct(times, 95)),
    max_ms: r1(Math.max(...times)),
    cpu_ms: cpu,
    cpu_ms_per_session: r1(cpuTotal / BURST),
  };
}

/** Waits until the server's warm stock holds `n` pages (gatehouse_browser_warm_pages on /metrics). */
async function warmStock(n: number) {
  let seen = "";
  for (let i = 0; i < 600; i++) {
    const text = await (await fetch(`${server.base}/metrics`, { headers: server.headers })).text();
    seen = text.match(/^gatehouse_browser_(warm_pages|contexts_open) \d+$/gm)?.join(", ") ?? "none";
    if (Number(text.match(/^gatehouse_browser_warm_pages (\d+)/m)?.[1] ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the warm stock did not reach ${n} (${seen}); the server's log: ${server.log}`);
}

const setups: { name: string; db: string; chrome?: string; warm?: number }[] = [
  { name: "headless shell, PGlite", db: "pglite" },
  { name: "headless shell, Postgres", db: "postgres" },
  // a service that expects its bursts (slots opening at a known time) can keep a burst's worth of pages made
  { name: `headless shell, Postgres, BROWSER_WARM_PAGES=${BURST}`, db: "postgres", warm: BURST },
  { name: "full chromium (before issue 16), Postgres", db: "postgres", chrome: FULL_CHROMIUM },
];
// --only=<text>: only the setups whose name holds it (a quick look at one of them; writes to --out as well)
const ONLY = arg("only", "");
const bursts: Record<string, unknown>[] = [];
const densityRows: Record<string, unknown>[] = [];
for (const setup of setups.filter((x) => x.name.includes(ONLY))) {
  server = await start(setup.db, setup.chrome, setup.warm);
  try {
    await cancelAll([(await toPrompt()).id]); // the first session launches the browser: not counted
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (setup.warm) await warmStock(setup.warm); // made before the burst, as between a service's bursts
      rounds.push(await burstRound());
    }
    const median = [...rounds].sort((x, y) => x.p95_ms - y.p95_ms)[Math.floor((rounds.length - 1) / 2)];
    const row = { setup: setup.name, sessions: BURST, ...median, rounds_p95_ms: rounds.map((r) => r.p95_ms) };
    console.log(
      `burst ${BURST} (${setup.name}): p50 ${row.p50_ms} ms, p95 ${row.p95_ms} ms (rounds ${row.rounds_p95_ms}); ` +
        `CPU ${row.cpu_ms_per_session} ms per session ${JSON.stringify(row.cpu_ms)}`,
    );
    bursts.push(row);
    if (setup.db === "postgres" && !setup.chrome) {
      densityRows.push(...(await density()).map((r) => ({ setup: setup.name, ...r })));
    }
  } finally {
    await server.close();
  }
}

/** N sessions waiting at their prompt, for each N of DENSITY: PSS per session, /health, one more session. */
async function density(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const n of DENSITY) {
    const idle: Sample = await treePss(server.pid);
    const ids: string[] = [];
    for (let i = 0; i < n; i += 25) {
      const wave = await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => toPrompt()));
      ids.push(...wave.map((w) => w.id));
    }
    await new Promise((r) => setTimeout(r, 3000)); // let the pages settle at their prompt
    const full = await treePss(server.pid);
    const h0 = performance.now();
    const health = await fetch(`${server.base}/health`);
    await health.body?.cancel();
    const healthMs = performance.now() - h0;
    const extra = await toPrompt();
    ids.push(extra.id);
    const row = {
      waiting: n,
      pss_idle_mb: r1(idle.pssKb / 1024),
      pss_waiting_mb: r1(full.pssKb / 1024),
      pss_per_session_mb: r1((full.pssKb - idle.pssKb) / 1024 / n),
      processes: full.processes,
      health_status: health.status,
      health_ms: r1(healthMs),
      one_more_session_to_prompt_ms: r1(extra.ms),
    };
    console.log(
      `density ${n}: ${row.pss_per_session_mb} MB PSS per waiting session ` +
        `(${row.pss_idle_mb} → ${row.pss_waiting_mb} MB, ${row.processes} processes); /health ${health.status} in ` +
        `${row.health_ms} ms; one more session to its prompt in ${row.one_more_session_to_prompt_ms} ms`,
    );
    rows.push(row);
    await cancelAll(ids);
  }
  return rows;
}

const result = {
  command: `npx -y deno@2 run -A bench/burst.ts ${Deno.args.join(" ")}`.trim(),
  date: new Date().toISOString(),
  machine: { cores: navigator.hardwareConcurrency, load_before: LOAD_BEFORE, load_after: Deno.loadavg() },
  burst: bursts,
  density: densityRows,
  goals: { burst_p95_ms: 4000, pss_per_session_mb: 20 },
};
await Deno.writeTextFile(OUT, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${OUT}`);
