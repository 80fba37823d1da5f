/**
 * Media-auth throughput: `GET /api/v1/media/auth` with a valid camera token (the Flussonic query of an
 * update_session) against a bare `Deno.serve` hello-world given the same request line, with the same
 * load generator and connection count in the same run: `wrk -t2 -c32 -d10s --latency`, 127.0.0.1 only.
 *
 *   deno run -A bench/media_auth.ts [--rounds=3]   # writes bench/results/media_auth.json, prints a summary
 *
 * Each server runs in its own process (this file with --serve=…): gatehouse on embedded in-memory
 * PGlite with the default settings (LOG_LEVEL unset: info, media auth logged at debug and counted in
 * /metrics), and once more with LOG_LEVEL=debug to show what a log line per check costs (lines go to
 * /dev/null). The targets are measured in interleaved rounds and the medians compared,
 * so load from other processes on the machine hits all of them alike. About 100 s with 3 rounds.
 * Goals: ≥ 0.6× the hello-world's requests/s with the default settings, p99 < 5 ms.
 */
import { decodeJwt } from "jose";
import { createDb } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import { startSession } from "../src/auth/sessions.ts";
import { findOrCreateUser } from "../src/auth/users.ts";
import { createCamera, grantCamera } from "../src/cameras/cameras.ts";
import { CameraAuth } from "../src/cameras/media_auth.ts";
import { renewCameraToken } from "../src/cameras/tokens.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { randomToken } from "../src/crypto.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { BufferedStdout, createLogger } from "../src/log.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { loadAverage, parseWrk, summary, type WrkResult } from "./wrk_stats.ts";

const WRK = "/usr/bin/wrk";
const THREADS = 2;
const CONNECTIONS = 32;
const DURATION_S = 10;
const WARMUP_S = 3;
const ROUNDS_DEFAULT = 3;
const GOAL_RATIO = 0.6;
const GOAL_P99_MS = 5;

interface Ready {
  port: number;
  path: string;
  denyPath?: string;
  router?: string;
}

// ---------------------------------------------------------------- servers (child processes)

/** Tells the harness where to send load: written whole (rename), so it never reads half a file. */
async function announce(readyFile: string, ready: Ready) {
  await Deno.writeTextFile(`${readyFile}.part`, JSON.stringify(ready));
  await Deno.rename(`${readyFile}.part`, readyFile);
}

async function serveHello(readyFile: string) {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("hello"),
  );
  await announce(readyFile, { port: server.addr.port, path: "/" });
  await server.finished;
}

async function serveGatehouse(readyFile: string, logLevel?: "debug") {
  const config = loadConfig({
    ENV: "development",
    DATABASE_URL: "memory:",
    ...(logLevel ? { LOG_LEVEL: logLevel } : {}), // unset: the default
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
  deps.cameraAuth = new CameraAuth(deps);
  const app = createApp(deps);

  const user = await findOrCreateUser(deps, "+36201234567");
  const pair = await startSession(deps, user);
  const sessionId = decodeJwt(pair.access_token).sid as string;
  for (const stream of ["gate-1", "yard-2", "lobby-3"]) {
    const cam = await createCamera(deps, { stream, title: stream });
    await grantCamera(deps, cam.id, user.id);
  }
  const { token } = await renewCameraToken(deps, { userId: user.id, sessionId });
  const query = (t: string) =>
    new URLSearchParams({
      name: "gate-1",
      proto: "hls",
      ip: "198.51.100.23",
      token: t,
      request_type: "update_session",
      request_number: "3",
      session_id: "c5b3f6a0-6d3e-4f1e-9a77-0d2f5e1b9c41",
      stream_clients: "1",
      total_clients: "3",
      duration: "180",
      bytes: "5529600",
      qs: `token=${t}`,
      user_agent: "ExoPlayerLib/2.18.1",
      host: "media.example.net",
    });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  await (await app.fetch(new Request("http://127.0.0.1/health"))).body?.cancel(); // routers settle on first use
  await announce(readyFile, {
    port: server.addr.port,
    path: `/api/v1/media/auth?${query(token)}`,
    denyPath: `/api/v1/media/auth?${query(token.slice(0, -2) + "xx")}`,
    // Which router Hono settled on (RegExpRouter unless two routes can match one path).
    router: (app.router as { activeRouter?: { name: string } }).activeRouter?.name,
  });
  await server.finished;
}

// ---------------------------------------------------------------- the harness

async function startServer(mode: string): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  const readyFile = await Deno.makeTempFile({ prefix: "gatehouse-bench-", suffix: ".json" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--config=${new URL("../deno.json", import.meta.url).pathname}`,
      new URL(import.meta.url).pathname,
      `--serve=${mode}`,
      `--ready-file=${readyFile}`,
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

async function wrk(url: string, durationS: number): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${durationS}s`, "--timeout", "2s", "--latency", url];
  const out = await new Deno.Command(WRK, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  return parseWrk(text);
}

interface Target {
  name: string;
  mode: string;
  url: string;
  stop: () => Promise<void>;
  runs: WrkResult[];
}

/** Starts a server and checks it answers as expected before any load is sent. */
async function startTarget(name: string, mode: string, path?: string): Promise<Target & { ready: Ready }> {
  const { ready, stop } = await startServer(mode);
  try {
    const url = `http://127.0.0.1:${ready.port}${path ?? ready.path}`;
    const probe = await fetch(url);
    await probe.body?.cancel();
    if (probe.status !== 200) throw new Error(`${mode}: expected 200, got ${probe.status}`);
    if (ready.denyPath) {
      const deny = await fetch(`http://127.0.0.1:${ready.port}${ready.denyPath}`);
      await deny.body?.cancel();
      if (deny.status !== 403) throw new Error(`${mode}: a tampered token was not denied (${deny.status})`);
    }
    return { name, mode, url, stop, runs: [], ready };
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
  const targets: Target[] = [];
  try {
    const gatehouse = await startTarget("media auth, default settings", "gatehouse-default");
    targets.push(gatehouse);
    // The hello-world gets the very same request line (it ignores it), so both read the same bytes.
    targets.unshift(await startTarget("hello-world (Deno.serve)", "hello", gatehouse.ready.path));
    targets.push(await startTarget("media auth, LOG_LEVEL=debug", "gatehouse-debug"));
    for (const t of targets) {
      console.log(`${t.name}: warming up ${WARMUP_S}s`);
      await wrk(t.url, WARMUP_S);
    }
    // Interleaved rounds, so a busy neighbour on the machine slows every target alike.
    for (let r = 1; r <= rounds; r++) {
      for (const t of targets) {
        const result = await wrk(t.url, DURATION_S);
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
  }
  const [hello, warn, info] = targets.map((t) => summary(t.runs));
  const ratio = Math.round((warn.requests_per_s / hello.requests_per_s) * 1000) / 1000;
  const ratioInfo = Math.round((info.requests_per_s / hello.requests_per_s) * 1000) / 1000;
  const report = {
    bench: "media_auth",
    at: new Date().toISOString(),
    command: `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION_S}s --timeout 2s --latency <url>`,
    method: `${rounds} interleaved rounds per target after a ${WARMUP_S}s warm-up; medians reported`,
    machine: {
      cpus: navigator.hardwareConcurrency,
      os: Deno.build.os,
      deno: Deno.version.deno,
      load_average_before: loadBefore,
      load_average_after: await loadAverage(),
    },
    route: "GET /api/v1/media/auth (Flussonic update_session query, valid token, 200)",
    database: "embedded PGlite, in memory",
    hono_router: (targets[1] as Target & { ready: Ready }).ready.router,
    baseline_hello: hello,
    gatehouse_default: warn,
    gatehouse_log_debug: info,
    ratio_vs_hello: ratio,
    ratio_vs_hello_log_debug: ratioInfo,
    goals: {
      ratio_at_least: GOAL_RATIO,
      p99_ms_below: GOAL_P99_MS,
      ratio_met: ratio >= GOAL_RATIO,
      p99_met: warn.p99_ms < GOAL_P99_MS,
      baseline_p99_ms: hello.p99_ms,
    },
  };
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    new URL("./results/media_auth.json", import.meta.url),
    JSON.stringify(report, null, 2) + "\n",
  );
  const row = (name: string, r: ReturnType<typeof summary>) =>
    `${name.padEnd(28)} ${String(r.requests_per_s).padStart(8)} req/s   p50 ${r.p50_ms.toFixed(3)} ms   p99 ${
      r.p99_ms.toFixed(3)
    } ms`;
  console.log(
    `\n${report.command}; ${report.method}; load average ${loadBefore} → ${report.machine.load_average_after}`,
  );
  console.log(row("hello-world (Deno.serve)", hello));
  console.log(row("media auth, default settings", warn));
  console.log(row("media auth, LOG_LEVEL=debug", info));
  console.log(
    `throughput ratio ${ratio} (goal ≥ ${GOAL_RATIO}: ${report.goals.ratio_met ? "met" : "NOT met"}); ` +
      `p99 ${warn.p99_ms} ms (goal < ${GOAL_P99_MS} ms: ${report.goals.p99_met ? "met" : "NOT met"}; ` +
      `hello-world p99 ${hello.p99_ms} ms); with a debug line per check: ratio ${ratioInfo}`,
  );
  console.log("written to bench/results/media_auth.json");
}

if (import.meta.main) {
  const serve = Deno.args.find((a) => a.startsWith("--serve="))?.slice("--serve=".length);
  const readyFile = Deno.args.find((a) => a.startsWith("--ready-file="))?.slice("--ready-file=".length);
  if (serve === "hello") await serveHello(readyFile!);
  else if (serve === "gatehouse-default") await serveGatehouse(readyFile!);
  else if (serve === "gatehouse-debug") await serveGatehouse(readyFile!, "debug");
  else await main();
}
