/**
 * Cold start: time from spawning `deno run -A src/main.ts` to its first `GET /health` 200, with an empty
 * DATA_DIR (embedded PGlite from the pre-migrated snapshot, db/snapshot.ts), with no snapshot (initdb and
 * every migration), and restarted on the data the first run left; against a Deno.serve hello-world spawned
 * the same way in the same run (the process and module-loading floor).
 *
 *   deno run -A bench/cold_start.ts [--rounds=3]   # writes bench/results/cold_start.json
 *
 * Goals: empty data folder ≤ 1.5 s, restart ≤ 0.6 s (reported with the hello-world's time beside them, since
 * absolute times depend on the machine's load).
 */
import { snapshotFiles } from "../db/snapshot.ts";

const root = new URL("..", import.meta.url).pathname;
const HELLO = `Deno.serve({ port: Number(Deno.env.get("PORT")), onListen() {} }, () => new Response("ok"));`;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** Spawns `args`, polls /health every 10 ms, answers the ms to the first 200, then stops the process. */
async function timeToHealth(args: string[], env: Record<string, string>): Promise<number> {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { ...env, PORT: String(port), LOG_LEVEL: "warn" },
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    while (performance.now() - started < 120_000) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        await res.body?.cancel();
        if (res.status === 200) return Math.round(performance.now() - started);
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${args.join(" ")}: no /health within 120 s`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];

async function main() {
  const rounds = Number(Deno.args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 3);
  const main = ["run", "-A", `--config=${root}deno.json`, `${root}src/main.ts`];
  const hello = ["eval", HELLO];
  const runs = {
    hello: [] as number[],
    empty: [] as number[],
    restart: [] as number[],
    no_snapshot: [] as number[],
  };
  // the snapshot must exist (deno task db:snapshot / deno task start make it)
  await Deno.stat(snapshotFiles.data);
  for (let r = 1; r <= rounds; r++) {
    const dir = await Deno.makeTempDir({ prefix: "gatehouse-cold-" });
    const env = { DATA_DIR: dir, ENV: "development", DEMO_PORTAL: "false" };
    try {
      runs.hello.push(await timeToHealth(hello, {}));
      runs.empty.push(await timeToHealth(main, env));
      runs.restart.push(await timeToHealth(main, env));
      // no snapshot: the tarball moved aside for one run, always put back
      const aside = `${snapshotFiles.meta}.bench-aside`;
      await Deno.rename(snapshotFiles.meta, aside);
      try {
        runs.no_snapshot.push(await timeToHealth(main, { ...env, DATA_DIR: `${dir}/second` }));
      } finally {
        await Deno.rename(aside, snapshotFiles.meta);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    console.log(
      `round ${r}/${rounds}: hello ${runs.hello.at(-1)} ms, empty ${runs.empty.at(-1)} ms, ` +
        `restart ${runs.restart.at(-1)} ms, empty without snapshot ${runs.no_snapshot.at(-1)} ms`,
    );
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<
    string,
    number
  >;
  const report = {
    bench: "cold_start",
    at: new Date().toISOString(),
    command: "deno run -A bench/cold_start.ts",
    method: `${rounds} rounds; spawn → first GET /health 200 (polled every 10 ms); medians in ms`,
    machine: {
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      load_average: (await Deno.readTextFile("/proc/loadavg").catch(() => "unknown")).trim(),
    },
    median_ms: m,
    runs,
    goals: {
      empty_ms_at_most: 1500,
      restart_ms_at_most: 600,
      empty_met: m.empty <= 1500,
      restart_met: m.restart <= 600,
    },
  };
  await Deno.writeTextFile(
    new URL("./results/cold_start.json", import.meta.url),
    JSON.stringify(report, null, 2) + "\n",
  );
  console.log(
    `medians: hello ${m.hello} ms; empty DATA_DIR ${m.empty} ms (goal ≤ 1500: ${
      report.goals.empty_met ? "met" : "NOT met"
    }); restart ${m.restart} ms (goal ≤ 600: ${report.goals.restart_met ? "met" : "NOT met"}); ` +
      `empty without snapshot ${m.no_snapshot} ms`,
  );
}

if (import.meta.main) await main();
