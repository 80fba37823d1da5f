/** The only entry point: reads config, opens the database, builds deps, serves, and shuts down cleanly. */
import { createDb } from "../db/client.ts";
import { createApp } from "./app.ts";
import { startTraccarListener } from "./devices/listener.ts";
import { DeviceScheduler } from "./devices/schedules.ts";
import { traccarFromConfig } from "./devices/traccar_client.ts";
import { JwtKeys } from "./auth/jwt.ts";
import { LoginSessions } from "./auth/login_cache.ts";
import { systemClock } from "./clock.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { randomToken } from "./crypto.ts";
import { readyLine, resolveDevAdminKey } from "./dev_key.ts";
import type { Deps } from "./deps.ts";
import { EventBus } from "./events.ts";
import { KeyedMutex } from "./keyed_mutex.ts";
import { Drain } from "./drain.ts";
import { type ConnGuard, connGuardWanted, serveHttp } from "./conn_guard.ts";
import { SOCKET_MAX_MESSAGE_BYTES } from "./socket_guard.ts";
import { QueueStore } from "./automation/queue_store.ts";
import { Resources, within } from "./lifecycle.ts";
import { BufferedStdout, createLogger } from "./log.ts";
import { smsFromConfig } from "./otp/sms.ts";
import { createAutomation, markInterrupted } from "./automation/mod.ts";
import { builtinFlows } from "./automation/flows/mod.ts";
import { CameraAuth } from "./cameras/media_auth.ts";
import { DEMO_LOGIN } from "./demo/mod.ts";
import { smartyardDeps } from "./smartyard/mod.ts";
import { PaymentSettler } from "./smartyard/settle.ts";
import { createWebhookWorker, sessionOutbox } from "./webhooks/mod.ts";

/** In development, a JWT secret is generated once and kept in DATA_DIR so sessions survive restarts. */
async function resolveJwtSecret(config: Config): Promise<string> {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const file = `${config.DATA_DIR}/jwt_secret`;
  try {
    return (await Deno.readTextFile(file)).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(config.DATA_DIR, { recursive: true });
  const secret = randomToken(48);
  await Deno.writeTextFile(file, secret, { mode: 0o600 });
  return secret;
}

async function main() {
  const startedAt = performance.now();
  let config: Config;
  try {
    config = loadConfig(Deno.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
  const stdout = new BufferedStdout();
  const log = createLogger(config.LOG_LEVEL, stdout.write);
  const resources = new Resources((name, err) =>
    log.error("shutdown step failed", { step: name, error: err })
  );
  resources.add("log buffer", stdout, (out) => out[Symbol.dispose]()); // closed last: flushes the final lines
  config = { ...config, JWT_SECRET: await resolveJwtSecret(config) };
  // development only: an admin key kept in DATA_DIR/admin_key when API_KEYS is empty
  const devKey = await resolveDevAdminKey(config);
  if (devKey) config = { ...config, API_KEYS: [devKey] };

  // cluster: this run's id: claimed sessions carry it, and its Postgres connections name it (liveness)
  const instance = crypto.randomUUID();
  const database = await createDb({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    instance,
    connectTimeoutS: config.DB_CONNECT_TIMEOUT_S,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
  });
  resources.add("database", database, (d) => d.close());
  log.info("database ready", {
    kind: database.kind,
    location: database.location,
    ms: Math.round(performance.now() - startedAt), // start-up phases: see bench/cold_start.ts
  });

  const clock = systemClock;
  const events = new EventBus((err, event) =>
    log.error("event listener failed", { type: event.type, error: err })
  );
  const deps: Deps = {
    config,
    db: database.db,
    clock,
    log,
    events,
    jwt: new JwtKeys(config.JWT_SECRET!, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, clock }),
    sms: smsFromConfig(config),
    traccar: traccarFromConfig(config), // devices
    startedAt,
    claimLocks: new KeyedMutex(),
    drain: new Drain(),
  };
  // cluster: login sessions live in memory; revocations from every instance arrive over LISTEN/NOTIFY.
  deps.logins = new LoginSessions(deps);
  await deps.logins.listen(database);
  resources.add("login sessions", deps.logins, (l) => l[Symbol.asyncDispose]());
  // sessions a previous run left active are failed (interrupted) before any new one starts;
  // Chromium is launched on the first session. The pool is closed after the HTTP server (registered before it).
  // ---- webhooks: the outbox worker delivers what session (and other) changes wrote; closed after the
  // sessions end and before the database. Messages it holds at a crash are retried after their lease.
  const webhookWorker = resources.add("webhook worker", createWebhookWorker(deps).start(), (w) => w.close());
  const outbox = sessionOutbox(config, () => webhookWorker.kick());
  // cluster: only sessions of instances that are gone (on PGlite, the one process is this one)
  const alive = database.kind === "postgres" ? await new QueueStore(deps).liveInstances() : [instance];
  await markInterrupted(deps, { outbox, alive });
  // Flows pointed at the built-in demo portal log in as demo/demo unless FLOW_SECRETS says otherwise.
  const demoLogins = config.DEMO_PORTAL && !config.PORTAL_BASE_URL
    ? Object.fromEntries(builtinFlows.map((f) => [f.name, { ...DEMO_LOGIN }]))
    : {};
  deps.automation = resources.add(
    "automation",
    createAutomation(deps, {
      flows: builtinFlows,
      portalUrl: config.PORTAL_BASE_URL ?? `http://127.0.0.1:${config.PORT}/demo`,
      secrets: { ...demoLogins, ...config.FLOW_SECRETS },
      cluster: database, // cluster: session event notices over LISTEN/NOTIFY
      instance,
      outbox, // webhooks
    }),
    (a) => a.close(),
  );
  // the connection guard's counts on /metrics: read at scrape, once the server listens (below)
  const front: { guard?: ConnGuard } = {};
  deps.connections = () => front.guard?.stats();
  deps.cameraAuth = resources.add("camera auth cache", new CameraAuth(deps), (a) => a[Symbol.dispose]());
  const app = createApp(deps);

  // the Traccar event listener and the command scheduler, closed before the database
  if (deps.traccar) {
    resources.add("traccar listener", startTraccarListener(deps)!, (l) => l.close());
    resources.add("device scheduler", new DeviceScheduler(deps).start(), (s) => s.close());
    log.info("traccar sync on", { url: deps.traccar.url, event_types: config.TRACCAR_EVENT_TYPES });
  } else {
    log.info("traccar not configured: devices are local, commands answer 503");
  }

  // smartyard: card payments the bank did not call back about are settled by polling it
  const smartyard = smartyardDeps(deps);
  if (smartyard.bank) {
    resources.add("payment settler", new PaymentSettler(smartyard).start(), (s) => s.close());
  }

  // slow and idle clients: without a proxy in front, a guard accepts the connections and relays them to the
  // server on a loopback port with header-read and idle timeouts Deno.serve lacks (src/conn_guard.ts)
  const { server, guard, addr } = serveHttp({
    hostname: "0.0.0.0",
    port: config.PORT,
    guard: connGuardWanted(config)
      ? {
        headerTimeoutMs: config.HTTP_HEADER_TIMEOUT_MS,
        idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_MS,
        wsMaxMessageBytes: SOCKET_MAX_MESSAGE_BYTES, // stopped before Deno reads the message (socket_guard.ts)
      }
      : undefined,
  }, app.fetch);
  front.guard = guard;
  log.info("listening", {
    url: `http://${addr.hostname}:${addr.port}`,
    ms: Math.round(performance.now() - startedAt),
    since_process_start: Math.round(performance.now()),
    conn_guard: !!guard,
  });
  stdout.write(readyLine(config, addr.port)); // the console URL (and the dev admin key), one line
  let drained: Promise<void> | undefined;
  const shutdownServer = () => drained ??= server.shutdown();
  // sessions still running here when the server has drained fail as interrupted (their browser closes)
  resources.add("automation sessions", deps.automation, (a) => a.sessions.close());
  resources.add("http server", server, shutdownServer);
  if (guard) resources.add("connection guard", guard, (g) => g.close()); // after the server has drained

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const graceMs = config.SHUTDOWN_GRACE_S * 1000;
    log.info("shutting down", { signal, grace_s: config.SHUTDOWN_GRACE_S });
    const hardStop = setTimeout(() => {
      log.error("shutdown grace over: exiting", { grace_s: config.SHUTDOWN_GRACE_S });
      stdout.flush();
      Deno.exit(1);
    }, graceMs);
    // 1. claim no more queued sessions, and hand the ones claimed but not started back to the queue
    await deps.automation!.sessions.drain().catch((err) =>
      log.error("draining sessions failed", { error: err })
    );
    // 2. stop accepting; sockets close with 1001 and SSE streams and long-polls end, so clients re-attach
    //    elsewhere; in-flight requests finish within the grace (a second is kept for the steps after it)
    guard?.stopAccepting();
    const drainedHttp = shutdownServer();
    deps.drain!.start();
    if (!(await within(drainedHttp, graceMs - 1000))) log.warn("in-flight requests cut at the grace");
    // 3. the rest, last opened first: sessions (interrupted), workers, listeners, the database
    await resources.close();
    clearTimeout(hardStop);
    log.info("stopped");
    stdout.flush();
    Deno.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => stop(sig));
}

if (import.meta.main) await main();
