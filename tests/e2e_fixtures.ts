/**
 * End-to-end fixtures for the real flows: a test with its own browser pool, the whole app (built-in flows,
 * demo portal at /demo) served by Deno.serve on 127.0.0.1 port 0, with PORTAL_BASE_URL pointing at that
 * same server's /demo so the flows' Chromium drives it; a WebSocket client that records messages; an SSE
 * reader; waiting for a session to end on its events.
 */
import assert from "node:assert/strict";
import { builtinFlows } from "../src/automation/flows/mod.ts";
import { type Automation, createAutomation } from "../src/automation/mod.ts";
import { sessionOutbox } from "../src/webhooks/mod.ts";
import type { BrowserPool } from "../src/automation/pool.ts";
import { FINAL_STATUSES, type SessionService, type SessionView } from "../src/automation/sessions.ts";
import type { DemoDebugSnapshot } from "../src/demo/mod.ts";
import { testPool, waitFor } from "./automation_fixtures.ts";
import { type TestApp, testApp } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** The demo portal's login, given to vehicle-lookup as server-side credentials. */
export const DEMO_LOGIN = { username: "demo", password: "demo" };

/**
 * A test with a browser pool of its own, with Deno's sanitizers on: a browser context still open once
 * `fn` has disposed its app fails this test (not a later one), and the pool is closed either way.
 */
export function browserTest(name: string, fn: (pool: BrowserPool) => Promise<void>): void {
  Deno.test(name, async () => {
    const pool = testPool();
    try {
      await fn(pool);
      // No pool event says a context closed; a session ends its context before its final event, so
      // this only waits out a context still being opened when its session was ended.
      await waitFor(() => pool.openContexts === 0, "every browser context of this test to close", 5_000);
    } finally {
      await pool.close();
    }
    assert.equal(pool.openContexts, 0);
  });
}

/** The session `id` once it has ended, waiting on its events (never polling); fails after `timeoutMs`. */
export async function ended(sessions: SessionService, id: string, timeoutMs = 30_000): Promise<SessionView> {
  const deadline = performance.now() + timeoutMs;
  let view = await sessions.get(id);
  while (!FINAL_STATUSES.includes(view.status)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out waiting for session ${id} to end; it is ${view.status}`);
    view = await sessions.waitForEvent(id, view.seq, left);
  }
  return view;
}

/** A served app with the built-in flows. */
export interface ServedApp extends TestApp {
  automation: Automation;
  /** http://127.0.0.1:PORT */
  base: string;
  /** ws://127.0.0.1:PORT */
  wsBase: string;
  /** What a human would read off their phone or screen (`GET /demo/_debug`). */
  debug(): Promise<DemoDebugSnapshot>;
  /** Approves every pending BankID login (`POST /demo/_debug/qr/approve`); answers how many. */
  approveQr(): Promise<number>;
  /** `fetch` against the served app, JSON in and out, with `headers`. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * Serves the app on a shared pool. vehicle-lookup gets the demo login from FLOW_SECRETS (unless `config`
 * says otherwise); api-access gets none, so its captcha prompt asks for username and password too.
 * Disposing closes the automation (ending sessions and their sockets), the server, then the database.
 */
export async function servedApp(pool: BrowserPool, config: Record<string, string> = {}): Promise<ServedApp> {
  let handler: Deno.ServeHandler = () => new Response("starting", { status: 503 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => handler(req, info),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  let automation!: Automation;
  let t: TestApp;
  try {
    t = await testApp({
      config: {
        PORTAL_BASE_URL: `${base}/demo`,
        FLOW_SECRETS: JSON.stringify({ "vehicle-lookup": DEMO_LOGIN }),
        ...config,
      },
      deps: (deps) => {
        automation = createAutomation(deps, {
          flows: builtinFlows,
          pool,
          portalUrl: `${base}/demo`,
          reapIntervalMs: 50,
          imagePersistMs: 200,
          outbox: sessionOutbox(deps.config, () => {}), // webhooks: delivered by a worker a test starts
        });
        return { automation };
      },
    });
  } catch (err) {
    await server.shutdown();
    throw err;
  }
  handler = (req, info) => t.app.fetch(req, info);
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return Object.assign(t, {
    automation,
    base,
    wsBase: base.replace(/^http/, "ws"),
    call,
    async debug() {
      const res = await fetch(`${base}/demo/_debug`);
      if (!res.ok) throw new Error(`GET /demo/_debug answered ${res.status}`);
      return await res.json();
    },
    async approveQr() {
      const res = await fetch(`${base}/demo/_debug/qr/approve`, { method: "POST" });
      if (!res.ok) throw new Error(`POST /demo/_debug/qr/approve answered ${res.status}`);
      return (await res.json()).approved;
    },
    async [Symbol.asyncDispose]() {
      await automation.close();
      await server.shutdown();
      await t.db.close();
    },
  });
}

/** A WebSocket client that records messages (JSON parsed, with the time they arrived) and waits for them. */
export function socket(url: string, headers?: Record<string, string>) {
  // deno-lint-ignore no-explicit-any
  const ws = new (WebSocket as any)(url, headers ? { headers } : undefined) as WebSocket;
  const messages: Json[] = [];
  const arrivals: number[] = [];
  const waiters: { pred: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error(`socket error on ${new URL(url).pathname}`)));
  });
  opened.catch(() => {});
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    messages.push(m);
    arrivals.push(performance.now());
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    ws,
    messages,
    /** performance.now() when each message arrived. */
    arrivals,
    closed,
    opened,
    send: (m: string | Json) => ws.send(typeof m === "string" ? m : JSON.stringify(m)),
    /** The first message (already received or yet to come) that matches `pred`. */
    next(pred: (m: Json) => boolean, what = "a message", timeoutMs = 30_000): Promise<Json> {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.findIndex((w) => w.resolve === done), 1);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages).slice(0, 2000)}`));
        }, timeoutMs);
        const done = (m: Json) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.push({ pred, resolve: done });
      });
    },
    async close() {
      if (ws.readyState < 2) ws.close();
      await closed;
    },
  };
}

/** Reads an SSE response until it ends, calling `onEvent` for each event (awaited, in order). */
export async function readSse(
  res: Response,
  onEvent: (e: { id?: string; event: string; data: Json }) => void | Promise<void>,
): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (block.startsWith(":")) continue;
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const m = line.match(/^(\w+): ?(.*)$/);
        if (m) fields[m[1]] = fields[m[1]] ? `${fields[m[1]]}\n${m[2]}` : m[2];
      }
      await onEvent({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
    }
  }
}

/**
 * Moves `t`'s fake clock a second forward every `everyMs` until disposed: the demo portal draws its
 * BankID QR from its clock's second, so the QR changes as it would in real life.
 */
export function tickClock(t: TestApp, everyMs = 300): Disposable {
  const timer = setInterval(() => t.clock.advance(1000), everyMs);
  return { [Symbol.dispose]: () => clearInterval(timer) };
}

/** The PNG file signature. */
export function isPng(bytes: Uint8Array): boolean {
  return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b);
}

/** The bytes of base64 text (optionally a data: URL). */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replace(/^data:[^,]*,/, "")), (c) => c.charCodeAt(0));
}

/** The exam-booking flow's statuses, in order. */
export const BOOKING_FLOW_STATUSES = [
  "starting",
  "navigating",
  "login",
  "bankid",
  "qr_waiting",
  "authenticated",
  "configuring",
  "locations",
  "searching",
  "booking",
  "completed",
];

/** `values` without consecutive repeats. */
export function dedupe<T>(values: T[]): T[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}
