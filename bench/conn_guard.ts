/**
 * The connection guard (src/conn_guard.ts, issue 15 item 8): what its header-read and idle timeouts cost and
 * what they stop. In one run, a bare `Deno.serve` hello-world and the same server behind the guard (defaults:
 * 10 s header, 75 s idle), each in its own process (this file with --serve=bare|guarded):
 * - throughput: `wrk -t2 -c32 -d8s` on keep-alive connections, the guarded/bare ratio and the added time
 *   per request, for the hello-world and for gatehouse's own `GET /health` (the whole app: its middleware,
 *   router, metrics and log line), what any route pays when the guard is on;
 * - the attack run's slow clients: 600 silent sockets and 600 trickling a header line every 2 s, counted
 *   open 12 s later, while a normal request is timed during the attack.
 *
 *   deno run -A bench/conn_guard.ts [--rounds=2]   # writes bench/results/conn_guard.json
 */
import { createDb } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { serveHttp } from "../src/conn_guard.ts";
import { randomToken } from "../src/crypto.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { BufferedStdout, createLogger } from "../src/log.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { loadAverage, parseWrk, summary, type WrkResult } from "./wrk_stats.ts";

const ROUNDS = Number(Deno.args.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? 2);
const SLOW = 600;
const HEADER_TIMEOUT_MS = 10_000;
const CHECK_AT_MS = HEADER_TIMEOUT_MS + 2_000;

/** gatehouse's own app (embedded PGlite in a temporary folder, LOG_LEVEL=warn), as main.ts builds it. */
async function gatehouseFetch() {
  const dataDir = await Deno.makeTempDir({ prefix: "gatehouse-bench-" });
  const config = loadConfig({
    ENV: "development",
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    JWT_SECRET: randomToken(48),
    API_KEYS: "bench-key",
  });
  const database = await createDb({ dataDir });
  const deps: Deps = {
    config,
    db: database.db,
    clock: systemClock,
    log: createLogger(config.LOG_LEVEL, new BufferedStdout().write),
    events: new EventBus(),
    jwt: new JwtKeys(config.JWT_SECRET!, {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clock: systemClock,
    }),
    sms: smsFromConfig(config),
  };
  return createApp(deps).fetch;
}

/** --serve=<hello|app>-<bare|guarded>: serves hello or gatehouse's app and prints the public port. */
async function serve(kind: string): Promise<void> {
  const fetch = kind.startsWith("app") ? await gatehouseFetch() : () => new Response("hello");
  const { addr } = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    guard: kind.endsWith("guarded")
      ? { headerTimeoutMs: HEADER_TIMEOUT_MS, idleTimeoutMs: 75_000 }
      : undefined,
  }, fetch);
  console.log(addr.port);
}

/** Starts this file as a server of `kind`; resolves to its port and a stop. */
async function start(kind: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, `--serve=${kind}`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return {
    port: Number(value!.trim()),
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function wrk(port: number, seconds: number, path: string): Promise<WrkResult> {
  const out = await new Deno.Command("/usr/bin/wrk", {
    args: ["-t2", "-c32", `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}${path}`],
  }).output();
  return parseWrk(new TextDecoder().decode(out.stdout));
}

/** 600 silent and 600 trickling sockets; how many are still open CHECK_AT_MS later, and a request's time meanwhile. */
async function slowClients(port: number) {
  const conns: Deno.Conn[] = [];
  const open = new Set<Deno.Conn>();
  const encoder = new TextEncoder();
  for (let i = 0; i < 2 * SLOW; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(conn);
    open.add(conn);
    (async () => {
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* drop */ }
      open.delete(conn);
    })();
    if (i >= SLOW) await conn.write(encoder.encode("GET / HTTP/1.1\r\n")).catch(() => {});
  }
  const trickle = setInterval(() => {
    for (const c of conns.slice(SLOW)) if (open.has(c)) c.write(encoder.encode("X-A: b\r\n")).catch(() => {});
  }, 2000);
  await new Promise((r) => setTimeout(r, 3000));
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/`);
  await res.text();
  const requestMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, CHECK_AT_MS - 3000));
  clearInterval(trickle);
  const silentOpen = conns.slice(0, SLOW).filter((c) => open.has(c)).length;
  const tricklingOpen = conns.slice(SLOW).filter((c) => open.has(c)).length;
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  return { silent_open: silentOpen, trickling_open: tricklingOpen, request_during_ms: +requestMs.toFixed(1) };
}

/** Each target's bare and guarded throughput, rounds interleaved. */
async function throughput() {
  const kinds = ["hello-bare", "hello-guarded", "app-bare", "app-guarded"];
  const path = (kind: string) => kind.startsWith("app") ? "/health" : "/";
  const runs: Record<string, WrkResult[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      await using s = await start(kind);
      await wrk(s.port, 2, path(kind)); // warm-up
      runs[kind].push(await wrk(s.port, 8, path(kind)));
    }
  }
  const pair = (target: string) => {
    const bare = summary(runs[`${target}-bare`]);
    const guarded = summary(runs[`${target}-guarded`]);
    return {
      bare,
      guarded,
      ratio: +(guarded.requests_per_s / bare.requests_per_s).toFixed(3),
      added_us_per_request: +((1e6 / guarded.requests_per_s) - (1e6 / bare.requests_per_s)).toFixed(2),
    };
  };
  return { hello: pair("hello"), gatehouse_health: pair("app") };
}

async function main() {
  const { hello, gatehouse_health } = await throughput();
  const attack: Record<string, unknown> = {};
  for (const kind of ["bare", "guarded"]) {
    await using s = await start(`hello-${kind}`);
    attack[kind] = await slowClients(s.port);
  }
  const result = {
    command: `deno run -A bench/conn_guard.ts --rounds=${ROUNDS}`,
    date: new Date().toISOString(),
    load_average: await loadAverage(),
    wrk:
      "wrk -t2 -c32 -d8s (keep-alive), 127.0.0.1: a hello-world, and gatehouse's GET /health (the whole app)",
    hello,
    gatehouse_health,
    slow_clients: {
      sockets: `${SLOW} silent + ${SLOW} trickling a header line every 2 s; counted ${
        CHECK_AT_MS / 1000
      } s after`,
      header_timeout_ms: HEADER_TIMEOUT_MS,
      ...attack,
    },
  };
  await Deno.writeTextFile(
    new URL("./results/conn_guard.json", import.meta.url),
    JSON.stringify(result, null, 2) + "\n",
  );
  for (const [name, r] of [["hello", hello], ["gatehouse /health", gatehouse_health]] as const) {
    console.log(
      `${name}: bare ${r.bare.requests_per_s} req/s, guarded ${r.guarded.requests_per_s} req/s ` +
        `(${r.ratio}x, +${r.added_us_per_request} µs/request)`,
    );
  }
  console.log(`slow clients still open after ${CHECK_AT_MS / 1000} s:`, JSON.stringify(attack));
}

const serveArg = Deno.args.find((a) => a.startsWith("--serve="));
if (serveArg) await serve(serveArg.split("=")[1]);
else if (import.meta.main) await main();
