/**
 * cluster: authenticated-request throughput. `GET /api/v1/me` with a valid Bearer access token, on embedded
 * PGlite and on Postgres (when it is reachable), against a bare `Deno.serve` hello-world, with the same load
 * generator and connections in the same run: `wrk -t2 -c32 -d8s --latency -H "authorization: Bearer …"`,
 * 127.0.0.1 only. Each server runs in its own process (this file with --serve=…), LOG_LEVEL=warn.
 *
 *   deno run -A bench/auth.ts [--rounds=2]   # writes bench/results/auth.json, prints a summary
 *
 * Postgres: BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; a fresh database is made and
 * dropped. Goal: /me ≥ 0.4× the hello-world on both databases (a warm request makes no database round trip).
 * `POST /api/v1/otp/verify` is measured on the same servers: each server stores a code for VERIFY_CODES fresh
 * phone numbers before the load (verify burns its code and logs a new user in), and a wrk Lua script sends each
 * request for the next number (`bench/otp_verify.lua`); every answer must be a 200 token pair.
 */
import { decodeJwt } from "jose";
import postgres from "postgres";
import { createDb } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import { LoginSessions } from "../src/auth/login_cache.ts";
import { startSession } from "../src/auth/sessions.ts";
import { findOrCreateUser } from "../src/auth/users.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { randomToken } from "../src/crypto.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { BufferedStdout, createLogger } from "../src/log.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { otpCodes } from "../db/schema.ts";
import { hmacHex } from "../src/crypto.ts";
import { loadAverage, parseWrk, summary, type WrkResult } from "./wrk_stats.ts";

const WRK = "/usr/bin/wrk";
const THREADS = 2;
const CONNECTIONS = 32;
const DURATION_S = 8;
const WARMUP_S = 3;
const ROUNDS_DEFAULT = 2;
const GOAL_RATIO = 0.4;
const PG_URL = Deno.env.get("BENCH_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/test";

interface Ready {
  port: number;
  path: string;
  headers?: Record<string, string>;
}

/** Codes stored per server for the verify load: PHONES_PER_RUN numbers for each wrk run (warm-up and rounds). */
const PHONES_PER_RUN = 60_000;
const VERIFY_CODE = "123456";
const LUA = new URL("./otp_verify.lua", import.meta.url).pathname;

/** The i-th bench phone number (valid Hungarian mobile numbers, already in E.164). */
function benchPhone(i: number): string {
  return `+3620${1_000_000 + i}`;
}

/** Stores a valid code for `count` bench numbers, as requestCode would (without the SMS). */
async function storeCodes(deps: Deps, count: number): Promise<void> {
  const now = new Date();
  const expiresAt = new Date(now.getTime() + 3_600_000);
  for (let from = 0; from < count; from += 2000) {
    const rows = [];
    for (let i = from; i < Math.min(count, from + 2000); i++) {
      const phone = benchPhone(i);
      const codeHash = hmacHex(`otp-v1:${deps.config.JWT_SECRET}`, `${phone}:${VERIFY_CODE}`);
      rows.push({ phone, codeHash, attempts: 0, createdAt: now, expiresAt });
    }
    await deps.db.insert(otpCodes).values(rows);
  }
}

// ---------------------------------------------------------------- servers (child processes)

/** Tells the harness where to send load: written whole (rename), so it never reads half a file. */
async function announce(readyFile: string, ready: Ready) {
  await Deno.writeTextFile(`${readyFile}.part`, JSON.stringify(ready));
  await Deno.rename(`${readyFile}.part`, readyFile);
}

/** The name of the JSON-floor target in the report. */
const JSON_FLOOR = "floor: /me's bytes from a bare Deno.serve";

async function serveHello(readyFile: string) {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("hello"),
  );
  await announce(readyFile, { port: server.addr.port, path: "/" });
  await server.finished;
}

/**
 * The floor of an authenticated JSON answer: a bare Deno.serve that reads the Authorization header and answers
 * `body` (the bytes /me answered) with the headers gatehouse sends (content-type, x-request-id). What no
 * framework, router or auth check costs; /me cannot be faster than this.
 */
async function serveJsonFloor(readyFile: string, bodyFile: string) {
  const body = await Deno.readTextFile(bodyFile);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    if (!req.headers.get("authorization")) return new Response(null, { status: 401 });
    return new Response(body, {
      headers: { "content-type": "application/json", "x-request-id": crypto.randomUUID() },
    });
  });
  await announce(readyFile, {
    port: server.addr.port,
    path: "/api/v1/me",
    headers: { authorization: "Bearer probe" },
  });
  await server.finished;
}

async function serveGatehouse(readyFile: string, databaseUrl: string, runs: number) {
  const config = loadConfig({
    ENV: "development",
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: "warn",
    JWT_SECRET: randomToken(48),
    API_KEYS: "bench-key",
  });
  const database = await createDb({ url: config.DATABASE_URL });
  const log = createLogger(config.LOG_LEVEL, new BufferedStdout().write); // as main.ts writes logs
  const clock = systemClock;
  const deps: Deps = {
    config,
    db: database.db,
    clock,
    log,
    events: new EventBus(),
    jwt: new JwtKeys(config.JWT_SECRET!, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, clock }),
    sms: smsFromConfig(config),
  };
  deps.logins = new LoginSessions(deps); // as main.ts wires it
  await deps.logins.listen(database);
  const app = createApp(deps);
  const user = await findOrCreateUser(deps, "+36201234567");
  const pair = await startSession(deps, user);
  if (!decodeJwt(pair.access_token).sid) throw new Error("no sid in the access token");
  await storeCodes(deps, runs * PHONES_PER_RUN + 1); // the last one is the probe's
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  await announce(readyFile, {
    port: server.addr.port,
    path: "/api/v1/me",
    headers: { authorization: `Bearer ${pair.access_token}` },
  });
  await server.finished;
}

// ---------------------------------------------------------------- the harness

async function startServer(mode: string, runs = 1): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  const readyFile = await Deno.makeTempFile({ prefix: "gatehouse-bench-", suffix: ".json" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--config=${new URL("../deno.json", import.meta.url).pathname}`,
      new URL(import.meta.url).pathname,
      `--serve=${mode}`,
      `--ready-file=${readyFile}`,
      `--runs=${runs}`,
    ],
    stdin: "null",
    stdout: "null", // per-request log lines (LOG_LEVEL=info run) are written, then dropped by the OS
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(readyFile).catch(() => {});
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const text = await Deno.readTextFile(readyFile).catch(() => "");
    if (text) return { ready: JSON.parse(text), stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`Cannot start the ${mode} server: not ready within 60 s`);
}

async function wrk(
  url: string,
  durationS: number,
  headers: Record<string, string> = {},
  verifyRun?: number,
): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${durationS}s`, "--timeout", "2s", "--latency"];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  // verify: run n uses numbers n*PHONES_PER_RUN … (n+1)*PHONES_PER_RUN-1, split between the threads
  if (verifyRun !== undefined) args.push("-s", LUA);
  args.push(url);
  const env = verifyRun === undefined ? undefined : {
    BENCH_PHONE_FROM: String(1_000_000 + verifyRun * PHONES_PER_RUN),
    BENCH_PHONES_PER_THREAD: String(PHONES_PER_RUN / THREADS),
    BENCH_CODE: VERIFY_CODE,
  };
  const out = await new Deno.Command(WRK, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  return parseWrk(text);
}

interface Target {
  name: string;
  mode: string;
  url: string;
  headers?: Record<string, string>;
  stop: () => Promise<void>;
  runs: WrkResult[];
  /** verify targets: the next wrk run number (which block of stored codes it uses). */
  verifyRuns?: number;
}

/** Starts a server and checks it answers as expected before any load is sent. */
async function startTarget(
  name: string,
  mode: string,
  path?: string,
  runs = 1,
): Promise<Target & { ready: Ready }> {
  const { ready, stop } = await startServer(mode, runs);
  try {
    const url = `http://127.0.0.1:${ready.port}${path ?? ready.path}`;
    const probe = await fetch(url, { headers: ready.headers });
    await probe.body?.cancel();
    if (probe.status !== 200) throw new Error(`${mode}: expected 200, got ${probe.status}`);
    return { name, mode, url, headers: ready.headers, stop, runs: [], ready };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main() {
  try {
    await Deno.stat(WRK);
  } catch {
    console.error(
      `wrk is missing at ${WRK}: install it with \`apt-get install wrk\` (Debian), then run again.`,
    );
    Deno.exit(2);
  }
  const rounds = Number(Deno.args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? ROUNDS_DEFAULT);
  const loadBefore = await loadAverage();
  // A fresh Postgres database for this run, when Postgres is reachable.
  let pgDb: string | undefined;
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    pgDb = `gh_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.unsafe(`create database ${pgDb}`);
  } catch (err) {
    console.log(`Postgres not reachable at ${PG_URL} (${err}): measuring PGlite only`);
    pgDb = undefined;
  }
  const targets: Target[] = [];
  try {
    targets.push(await startTarget("hello-world (Deno.serve)", "hello", "/api/v1/me"));
    const runs = rounds + 1; // the warm-up, then each round, use their own stored codes
    const pglite = await startTarget("GET /api/v1/me, PGlite", "gatehouse-pglite", undefined, runs);
    targets.push(pglite);
    const pg = pgDb
      ? await startTarget("GET /api/v1/me, Postgres", `gatehouse-postgres:${pgDb}`, undefined, runs)
      : undefined;
    if (pg) targets.push(pg);
    // the floor: a bare Deno.serve answering /me's own bytes with its headers (no framework, no auth check)
    const meBody = await Deno.makeTempFile({ prefix: "gatehouse-bench-me-", suffix: ".json" });
    const me = await fetch(pglite.url, { headers: pglite.headers });
    await Deno.writeTextFile(meBody, await me.text());
    const floor = await startTarget(JSON_FLOOR, `json-floor:${meBody}`);
    floor.headers = pglite.headers;
    targets.push(floor);
    for (const [base, db] of [[pglite, "PGlite"], [pg, "Postgres"]] as const) {
      if (!base) continue;
      const url = `http://127.0.0.1:${base.ready.port}/api/v1/otp/verify`;
      const probe = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone: benchPhone(runs * PHONES_PER_RUN), code: VERIFY_CODE }),
      });
      await probe.body?.cancel();
      if (probe.status !== 200) throw new Error(`otp/verify on ${db}: expected 200, got ${probe.status}`);
      targets.push({
        name: `POST /api/v1/otp/verify, ${db}`,
        mode: base.mode,
        url,
        stop: async () => {},
        runs: [],
        verifyRuns: 0,
      });
    }
    const load = (t: Target, seconds: number) =>
      wrk(t.url, seconds, t.headers, t.verifyRuns === undefined ? undefined : t.verifyRuns++);
    for (const t of targets) {
      console.log(`${t.name}: warming up ${WARMUP_S}s`);
      await load(t, WARMUP_S);
    }
    for (let r = 1; r <= rounds; r++) {
      for (const t of targets) {
        const result = await load(t, DURATION_S);
        if (result.non_2xx > 0) throw new Error(`${t.name}: ${result.non_2xx} responses were not 2xx`);
        t.runs.push(result);
        console.log(
          `round ${r}/${rounds} ${t.name.padEnd(28)} ${
            result.requests_per_s.toFixed(0).padStart(7)
          } req/s  p99 ${result.latency_ms.p99.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    for (const t of targets) await t.stop();
    if (pgDb) await admin.unsafe(`drop database if exists ${pgDb} with (force)`).catch(() => {});
    await admin.end({ timeout: 2 });
  }
  const [hello, ...rest] = targets.map((t) => summary(t.runs));
  const results = Object.fromEntries(
    targets.slice(1).map((t, i) => [t.name, {
      ...rest[i],
      ratio_vs_hello: Math.round((rest[i].requests_per_s / hello.requests_per_s) * 1000) / 1000,
    }]),
  );
  const report = {
    bench: "auth",
    at: new Date().toISOString(),
    command:
      `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION_S}s --timeout 2s --latency -H "authorization: Bearer <token>" <url>` +
      ` (verify: -s bench/otp_verify.lua, one stored code per request)`,
    method: `${rounds} interleaved rounds per target after a ${WARMUP_S}s warm-up; medians reported`,
    machine: {
      cpus: navigator.hardwareConcurrency,
      os: Deno.build.os,
      deno: Deno.version.deno,
      load_average_before: loadBefore,
      load_average_after: await loadAverage(),
    },
    baseline_hello: hello,
    results,
    goal_ratio_at_least: GOAL_RATIO,
    goal_applies_to: "GET /api/v1/me",
    note: `"${JSON_FLOOR}" bounds what /me can reach: the same answer from a bare Deno.serve`,
  };
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    new URL("./results/auth.json", import.meta.url),
    JSON.stringify(report, null, 2) + "\n",
  );
  console.log(`\n${report.command}; ${report.method}`);
  console.log(`hello-world (Deno.serve)     ${hello.requests_per_s} req/s  p99 ${hello.p99_ms} ms`);
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(28)} ${r.requests_per_s} req/s  p99 ${r.p99_ms} ms  ratio ${r.ratio_vs_hello} ` +
        `(goal ≥ ${GOAL_RATIO}: ${r.ratio_vs_hello >= GOAL_RATIO ? "met" : "NOT met"})`,
    );
  }
}

const serve = Deno.args.find((a) => a.startsWith("--serve="))?.slice(8);
const readyFile = Deno.args.find((a) => a.startsWith("--ready-file="))?.slice(13);
const serveRuns = Number(Deno.args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 1);
if (serve && readyFile) {
  if (serve === "hello") await serveHello(readyFile);
  else if (serve.startsWith("json-floor:")) {
    await serveJsonFloor(readyFile, serve.slice("json-floor:".length));
  } else if (serve === "gatehouse-pglite") await serveGatehouse(readyFile, "memory:", serveRuns);
  else if (serve.startsWith("gatehouse-postgres:")) {
    const u = new URL(PG_URL);
    u.pathname = `/${serve.slice("gatehouse-postgres:".length)}`;
    await serveGatehouse(readyFile, u.toString(), serveRuns);
  } else throw new Error(`unknown --serve=${serve}`);
} else if (import.meta.main) await main();
