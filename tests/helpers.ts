/** Test harness: a real database per test (PGlite clone, or a fresh Postgres database), fake clock, recording SMS. */
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { createDb, type DbHandle, usePglite } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { JwtKeys } from "../src/auth/jwt.ts";
import type { Clock } from "../src/clock.ts";
import { type Config, loadConfig } from "../src/config.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { createLogger, type Logger } from "../src/log.ts";
import type { SmsSender } from "../src/otp/sms.ts";
import { recordAnswer, recordCode, recordDatabase, recordLogLine } from "./suite_scan.ts";

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  #ms: number;
  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#ms = start;
  }
  now(): Date {
    return new Date(this.#ms);
  }
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/** An SMS sender that records messages, and fails on demand; `scanScope` names its test app for the scan. */
export class RecordingSms implements SmsSender {
  readonly name = "recording";
  readonly sent: { to: string; text: string }[] = [];
  failNext = false;
  constructor(readonly scanScope = "") {}
  send(to: string, text: string): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("gateway down"));
    }
    this.sent.push({ to, text });
    for (const code of text.match(/(?<!\d)\d{4,10}(?!\d)/g) ?? []) recordCode(this.scanScope, to, code);
    return Promise.resolve();
  }
  /** The digits of the last message sent to `to`. */
  lastCode(to?: string): string {
    const msg = [...this.sent].reverse().find((m) => !to || m.to === to);
    const code = msg?.text.match(/\d{4,10}/)?.[0];
    if (!code) throw new Error(`no code was sent${to ? ` to ${to}` : ""}`);
    return code;
  }
}

/** A logger that keeps its lines, so tests can check that no secret reaches the logs. */
export function recordingLogger(scanScope?: string): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    createLogger("debug", (l) => {
      lines.push(l);
      recordLogLine(l, scanScope); // the whole-suite secret scan (tests/suite_scan.ts)
    }),
    { lines },
  );
}

let template: Promise<PGlite> | undefined;

/**
 * A migrated, empty database of its own for one test: PGlite by default, Postgres when DATABASE_URL says so;
 * `scanScope` names the test app whose database it is in the whole-suite scan.
 */
export async function testDb(scanScope?: string): Promise<DbHandle> {
  const url = Deno.env.get("DATABASE_URL");
  if (url?.startsWith("postgres")) {
    const name = `gh_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const u = new URL(url);
    u.pathname = `/${name}`;
    const handle = await createDb({ url: u.toString(), poolSize: 5 });
    const close = async () => {
      await recordDatabase(handle.db, scanScope);
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    };
    return { ...handle, close, [Symbol.asyncDispose]: close };
  }
  template ??= (async () => {
    const pg = await PGlite.create();
    await usePglite(pg, { migrate: true }); // migrates; the template itself stays open for the worker's life
    return pg;
  })();
  const handle = await usePglite(await (await template).clone() as PGlite, { migrate: false });
  const close = async () => {
    await recordDatabase(handle.db, scanScope); // the whole-suite secret scan (tests/suite_scan.ts)
    await handle.close();
  };
  return { ...handle, close, [Symbol.asyncDispose]: close };
}

/** Test configuration: the production defaults plus a fixed secret, overridable per test. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    ENV: "test",
    JWT_SECRET: "test-secret-test-secret-test-secret-0123456789",
    API_KEYS: "admin-key",
    LOG_LEVEL: "silent",
    DEFAULT_REGION: "HU",
    CLIENT_SECRET: "legacy-secret",
    TRUST_PROXY: "true",
    ...overrides,
  });
}

/** Everything a route test needs, disposed with `await using`. */
export interface TestApp extends AsyncDisposable {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  clock: FakeClock;
  sms: RecordingSms;
  log: Logger & { lines: string[] };
  db: DbHandle;
  /** Calls the app in process with a JSON body. */
  json(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Logs a phone number in through the OTP flow and returns the token pair. */
  login(
    phone?: string,
  ): Promise<{ access_token: string; refresh_token: string; user: { id: string; phone: string } }>;
}

/** Builds the app on a fresh database with a fake clock and a recording SMS sender. */
export async function testApp(
  options: { config?: Record<string, string>; deps?: (base: Deps) => Partial<Deps> } = {},
): Promise<TestApp> {
  const scanScope = crypto.randomUUID(); // ties its codes, logs and database together for the scan
  const db = await testDb(scanScope);
  const clock = new FakeClock();
  const sms = new RecordingSms(scanScope);
  const log = recordingLogger(scanScope);
  const config = testConfig(options.config);
  const base: Deps = {
    config,
    db: db.db,
    clock,
    log,
    events: new EventBus(),
    jwt: new JwtKeys(config.JWT_SECRET!, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, clock }),
    sms,
  };
  const deps = { ...base, ...options.deps?.(base) };
  const app = createApp(deps);
  const fetch = app.fetch;
  // the whole-suite secret scan; one declared parameter: Deno.serve calls a handler of none without a request
  app.fetch = async (req, ...rest) => recordAnswer(await fetch(req, ...rest));
  const json = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(app.request(path, {
      method,
      headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.7", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }));
  let phoneSeq = 0;
  return {
    app,
    deps,
    clock,
    sms,
    log,
    db,
    json,
    async login(phone = `+3620555${String(1000 + phoneSeq++).padStart(4, "0")}`) {
      const r1 = await json("POST", "/api/v1/otp/request", { phone });
      if (r1.status !== 202) throw new Error(`otp request failed: ${r1.status} ${await r1.text()}`);
      await r1.body?.cancel();
      const r2 = await json("POST", "/api/v1/otp/verify", { phone, code: sms.lastCode(phone) });
      if (r2.status !== 200) throw new Error(`otp verify failed: ${r2.status} ${await r2.text()}`);
      return await r2.json();
    },
    [Symbol.asyncDispose]: () => db.close(),
  };
}

/** Reads a problem+json answer, asserting its content type. */
export async function problem(res: Response): Promise<Record<string, unknown>> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`expected application/problem+json, got ${type}: ${await res.text()}`);
  }
  return await res.json();
}

// ---- devices: a second app instance on the same database (several gatehouse instances, one Postgres)

/** Another instance of the app sharing `t`'s database (and clock), with deps of its own. */
export interface SecondInstance extends AsyncDisposable {
  app: ReturnType<typeof createApp>;
  deps: Deps;
}

/**
 * Builds a second app on `t`'s database: for PGlite the same handle (one embedded server), for
 * Postgres a second connection pool to the same test database, as two machines would have.
 */
export async function secondInstance(
  t: TestApp,
  options: { deps?: (base: Deps) => Partial<Deps> } = {},
): Promise<SecondInstance> {
  let own: DbHandle | undefined;
  if (t.db.kind === "postgres") {
    const url = new URL(Deno.env.get("DATABASE_URL")!);
    url.pathname = new URL(t.db.location).pathname;
    own = await createDb({ url: url.toString(), poolSize: 5 });
  }
  const base: Deps = {
    ...t.deps,
    db: own?.db ?? t.db.db,
    events: new EventBus(),
    log: recordingLogger(t.sms.scanScope || undefined),
  };
  const deps = { ...base, ...options.deps?.(base) };
  return { app: createApp(deps), deps, [Symbol.asyncDispose]: async () => await own?.close() };
}
