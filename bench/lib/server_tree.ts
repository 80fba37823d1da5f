/** Bench helpers: a real `src/main.ts` server as a child process, and the PSS of a process tree from /proc. */
import postgres from "postgres";

const root = new URL("../..", import.meta.url).pathname;

/** A gatehouse server started for a bench. */
export interface BenchServer {
  base: string;
  api: string;
  pid: number;
  /** The file the server's log lines go to. */
  log: string;
  headers: Record<string, string>;
  close(): Promise<void>;
}

/** Memory of a process tree. */
export interface Sample {
  pssKb: number;
  rssKb: number;
  processes: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/**
 * Starts the server on a fresh database (a temp DATA_DIR for PGlite, or a new database on the local Postgres
 * for `db: "postgres"`), with the demo portal, an API key and the demo login in FLOW_SECRETS.
 */
export async function startBenchServer(
  opts: { db: string; env?: Record<string, string> },
): Promise<BenchServer> {
  const port = freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "gh-bench-" });
  let dbName: string | undefined;
  const pgUrl = Deno.env.get("BENCH_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/root",
    PORT: String(port),
    DATA_DIR: dataDir,
    ENV: "development",
    LOG_LEVEL: "warn",
    API_KEYS: "bench-key",
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
    FLOW_SECRETS: JSON.stringify({ "vehicle-lookup": { username: "demo", password: "demo" } }),
    ...(Deno.env.get("CHROME_PATH") ? { CHROME_PATH: Deno.env.get("CHROME_PATH")! } : {}),
    ...opts.env,
  };
  if (opts.db === "postgres") {
    dbName = `gh_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    await admin.end();
    const u = new URL(pgUrl);
    u.pathname = `/${dbName}`;
    env.DATABASE_URL = u.toString();
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${root}deno.json`, `${root}src/main.ts`],
    cwd: root,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // the server's log, kept for a look when a bench fails (`log` below)
  const log = `/tmp/gatehouse-bench-${port}.log`;
  void child.stdout.pipeTo(Deno.openSync(log, { write: true, create: true, truncate: true }).writable)
    .catch(() => {});
  const base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 120_000;
  for (;;) {
    const ok = await fetch(`${base}/health`).then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (ok) break;
    if (Date.now() > end) throw new Error("the bench server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    api: `${base}/api/v1`,
    pid: child.pid,
    log,
    headers: { "x-api-key": "bench-key", "content-type": "application/json" },
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      if (dbName) {
        const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop database if exists ${dbName} with (force)`);
        await admin.end();
      }
    },
  };
}

/** Every descendant of `pid` (and `pid` itself), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    try {
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        const kids = Deno.readTextFileSync(`/proc/${p}/task/${task.name}/children`).trim();
        if (kids) stack.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Sums Pss and Rss (kB) of `pid`'s process tree from smaps_rollup. */
export async function treePss(pid: number): Promise<Sample> {
  let pssKb = 0;
  let rssKb = 0;
  let processes = 0;
  for (const p of processTree(pid)) {
    try {
      const text = await Deno.readTextFile(`/proc/${p}/smaps_rollup`);
      pssKb += Number(text.match(/^Pss:\s+(\d+)/m)?.[1] ?? 0);
      rssKb += Number(text.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0);
      processes++;
    } catch {
      // gone
    }
  }
  return { pssKb, rssKb, processes };
}

/** CPU ms used so far by each kind of process in `pid`'s tree (deno, browser, renderer, other). */
export function treeCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  const tick = 1000 / 100;
  for (const p of processTree(pid)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = Deno.readTextFileSync(`/proc/${p}/cmdline`);
      const kind = p === pid
        ? "server"
        : /--type=renderer/.test(cmd)
        ? "renderer"
        : /--type=/.test(cmd)
        ? (cmd.match(/--type=([a-z-]+)/)?.[1] ?? "other")
        : "browser";
      out[kind] = (out[kind] ?? 0) + (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // gone
    }
  }
  return out;
}
