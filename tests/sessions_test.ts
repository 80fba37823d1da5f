/**
 * Automation sessions end to end, with real Chromium and real sockets. One browser pool is shared by the
 * whole file (launching Chromium per test would dominate CI time); the steps run one after another and
 * each has its own database and app. Sanitizers are on for the enclosing test, which ends with the pool
 * closed and asserts no context or temporary profile is left; they are off for the steps because the
 * shared browser's socket and process span the steps.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { automationEvents, automationSessions } from "../db/schema.ts";
import { signWebhook } from "../src/automation/webhooks.ts";
import { markInterrupted } from "../src/automation/mod.ts";
import { BROWSER_CRASHED } from "../src/automation/runtime.ts";
import { INTERRUPTED } from "../src/automation/sessions.ts";
import { problem, testApp } from "./helpers.ts";
import { ADMIN, automationApp, startPortal, testPool, tinyPng, waitFor } from "./automation_fixtures.ts";

type Json = Record<string, any>; // deno-lint-ignore no-explicit-any


/** Reads an SSE stream into events until it ends or `stop` says so. */
async function readSse(
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

/** A WebSocket client that records messages and lets a test wait for one. */
function socket(url: string, headers?: Record<string, string>) {
  // deno-lint-ignore no-explicit-any
  const ws = new (WebSocket as any)(url, headers ? { headers } : undefined) as WebSocket;
  const messages: Json[] = [];
  const waiters: { pred: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error("socket error")));
  });
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    messages.push(m);
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
    closed,
    opened,
    send: (m: Json) => ws.send(JSON.stringify(m)),
    next(pred: (m: Json) => boolean, what = "a message"): Promise<Json> {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15_000);
        waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    async close() {
      if (ws.readyState < 2) ws.close();
      await closed;
    },
  };
}

Deno.test("automation sessions with real Chromium", async (t) => {
  const portal = startPortal();
  const pool = testPool();
  const profilesBefore = await tempProfiles();
  const spec = (name: string, fn: () => Promise<void>) =>
    t.step({ name, fn, sanitizeOps: false, sanitizeResources: false });
  try {
    await spec("GET /api/v1/flows lists each flow with its input as JSON Schema", async () => {
      await using a = await automationApp(pool, portal.url);
      const res = await a.app.request("/api/v1/flows", { headers: ADMIN });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /application\/json/);
      const body = await res.json();
      const ask = body.flows.find((f: Json) => f.name === "test-ask-code");
      assert.equal(ask.title, "Ask a code");
      assert.equal(ask.input_schema.type, "object");
      assert.deepEqual(ask.input_schema.required, ["name"]);
      assert.equal(ask.input_schema.properties.name.type, "string");
      const anon = await a.app.request("/api/v1/flows");
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
    });

    await spec("a session runs end to end through REST long-polling", async () => {
      await using a = await automationApp(pool, portal.url, { FLOW_SECRETS: '{"test-ask-code":{"user":"u1"}}' });
      const res = await a.json("POST", "/api/v1/sessions", { flow: "test-ask-code", input: { name: "Ann" } }, ADMIN);
      assert.equal(res.status, 201);
      assert.match(res.headers.get("content-type")!, /application\/json/);
      const created = await res.json();
      assert.equal(res.headers.get("location"), `/api/v1/sessions/${created.id}`);
      assert.ok(["queued", "running"].includes(created.status));
      assert.match(created.ws_url, new RegExp(`^ws://localhost/api/v1/sessions/${created.id}/ws\\?ticket=`));

      let s: Json = created;
      while (!s.prompt) {
        const r = await a.json("GET", `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`, undefined, ADMIN);
        assert.equal(r.status, 200);
        s = await r.json();
      }
      assert.equal(s.status, "waiting");
      assert.equal(s.prompt.kind, "code");
      assert.equal(s.prompt.message, "Enter the code for Ann");
      assert.equal(s.prompt.secret, true);
      assert.equal(s.data.page, "Test portal");

      const stale = await a.json("POST", `/api/v1/sessions/${created.id}/input`, { prompt: "p_old", value: "1" }, ADMIN);
      assert.equal(stale.status, 409);
      assert.equal((await problem(stale)).open_prompt, s.prompt.id);
      const shape = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: s.prompt.id,
        value: { code: "1" },
      }, ADMIN);
      assert.equal(shape.status, 422);
      await shape.body?.cancel();

      const ok = await a.json("POST", `/api/v1/sessions/${created.id}/input`, { prompt: s.prompt.id, value: "123456" }, ADMIN);
      assert.equal(ok.status, 202);
      assert.deepEqual(await ok.json(), { status: "accepted", prompt: s.prompt.id });
      const again = await a.json("POST", `/api/v1/sessions/${created.id}/input`, { prompt: s.prompt.id, value: "1" }, ADMIN);
      assert.equal(again.status, 409, "an answered prompt is stale");
      await again.body?.cancel();

      while (!["succeeded", "failed"].includes(s.status)) {
        const r = await a.json("GET", `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`, undefined, ADMIN);
        s = await r.json();
      }
      assert.equal(s.status, "succeeded", s.error);
      assert.deepEqual(s.result, { greeting: "Welcome, code of 6 digits", note: null, secret_keys: ["user"] });
      assert.equal(s.progress, 100);
      assert.equal(s.prompt, null);
      assert.ok(s.finished_at);

      const log = await (await a.json("GET", `/api/v1/sessions/${created.id}/events`, undefined, ADMIN)).json();
      assert.deepEqual(log.events.map((e: Json) => e.seq), log.events.map((_: Json, i: number) => i + 1));
      assert.equal(log.seq, s.seq);
      assert.deepEqual(log.events.map((e: Json) => e.type), [
        "status", "status", "progress", "status", "prompt", "answer", "status", "progress", "artifact", "progress",
        "result", "status",
      ]);
      const after = await (await a.json("GET", `/api/v1/sessions/${created.id}/events?after=10`, undefined, ADMIN))
        .json();
      assert.deepEqual(after.events.map((e: Json) => e.seq), [11, 12]);

      const list = await (await a.json("GET", `/api/v1/sessions/${created.id}/artifacts`, undefined, ADMIN)).json();
      assert.deepEqual(list.artifacts.map((x: Json) => [x.name, x.content_type, x.size]), [
        ["greeting.txt", "text/plain; charset=utf-8", 25],
      ]);
      const file = await a.app.request(`/api/v1/sessions/${created.id}/artifacts/greeting.txt`, { headers: ADMIN });
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await file.text(), "Welcome, code of 6 digits");
      const missing = await a.app.request(`/api/v1/sessions/${created.id}/artifacts/nope.txt`, { headers: ADMIN });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      assert.equal(pool.openContexts, 0);
    });
  } finally {
    await pool.close();
    await portal.shutdown();
  }
  assert.equal(pool.browser, undefined);
  assert.deepEqual(await tempProfiles(), profilesBefore, "a temporary Chromium profile was left behind");
});

async function tempProfiles(): Promise<string[]> {
  const dir = Deno.env.get("TMPDIR") ?? "/tmp";
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith("gatehouse-chrome-")) out.push(e.name);
  return out.sort();
}

// Keep imports used while the file grows.
void [eq, automationEvents, automationSessions, signWebhook, markInterrupted, BROWSER_CRASHED, INTERRUPTED, testApp, tinyPng, socket, readSse];
