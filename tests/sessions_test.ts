/**
 * Automation sessions end to end, with real Chromium and real sockets. One browser pool is shared by the
 * whole file (launching Chromium per test would dominate CI time); the steps run one after another and
 * each has its own database and app. Sanitizers are on for the enclosing test, which ends with the pool
 * closed and asserts no context or temporary profile is left; they are off for the steps because the
 * shared browser's socket and process span the steps.
 */
import { readSse, socket } from "./e2e_fixtures.ts";
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import puppeteer from "puppeteer-core";
import { automationEvents, automationSessions } from "../db/schema.ts";
import { signWebhook } from "../src/automation/webhooks.ts";
import { markInterrupted } from "../src/automation/mod.ts";
import { BrowserPool } from "../src/automation/pool.ts";
import { BROWSER_CRASHED } from "../src/automation/runtime.ts";
import { createLogger } from "../src/log.ts";
import { INTERRUPTED } from "../src/automation/sessions.ts";
import { problem, testApp } from "./helpers.ts";
import { ADMIN, automationApp, startPortal, testPool, tinyPng, waitFor } from "./automation_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("automation sessions with real Chromium", async (t) => {
  const portal = startPortal();
  const pool = testPool();
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
      await using a = await automationApp(pool, portal.url, {
        FLOW_SECRETS: '{"test-ask-code":{"user":"u1"}}',
      });
      const res = await a.json(
        "POST",
        "/api/v1/sessions",
        { flow: "test-ask-code", input: { name: "Ann" } },
        ADMIN,
      );
      assert.equal(res.status, 201);
      assert.match(res.headers.get("content-type")!, /application\/json/);
      const created = await res.json();
      assert.equal(res.headers.get("location"), `/api/v1/sessions/${created.id}`);
      assert.ok(["queued", "running"].includes(created.status));
      assert.match(created.ws_url, new RegExp(`^ws://localhost/api/v1/sessions/${created.id}/ws\\?ticket=`));

      let s: Json = created;
      while (!s.prompt) {
        const r = await a.json(
          "GET",
          `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`,
          undefined,
          ADMIN,
        );
        assert.equal(r.status, 200);
        s = await r.json();
      }
      assert.equal(s.status, "waiting");
      assert.equal(s.prompt.kind, "code");
      assert.equal(s.prompt.message, "Enter the code for Ann");
      assert.equal(s.prompt.secret, true);
      assert.equal(s.data.page, "Test portal");

      const stale = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: "p_old",
        value: "1",
      }, ADMIN);
      assert.equal(stale.status, 409);
      assert.equal((await problem(stale)).open_prompt, s.prompt.id);
      const shape = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: s.prompt.id,
        value: { code: "1" },
      }, ADMIN);
      assert.equal(shape.status, 422);
      await shape.body?.cancel();

      const ok = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: s.prompt.id,
        value: "123456",
      }, ADMIN);
      assert.equal(ok.status, 202);
      assert.deepEqual(await ok.json(), { status: "accepted", prompt: s.prompt.id });
      const again = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: s.prompt.id,
        value: "1",
      }, ADMIN);
      assert.equal(again.status, 409, "an answered prompt is stale");
      await again.body?.cancel();

      while (!["succeeded", "failed"].includes(s.status)) {
        const r = await a.json(
          "GET",
          `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`,
          undefined,
          ADMIN,
        );
        s = await r.json();
      }
      assert.equal(s.status, "succeeded", s.error);
      assert.deepEqual(s.result, {
        greeting: "Welcome, code of 6 digits",
        note: null,
        secret_keys: ["user"],
      });
      assert.equal(s.progress, 100);
      assert.equal(s.prompt, null);
      assert.ok(s.finished_at);

      const log = await (await a.json("GET", `/api/v1/sessions/${created.id}/events`, undefined, ADMIN))
        .json();
      assert.deepEqual(log.events.map((e: Json) => e.seq), log.events.map((_: Json, i: number) => i + 1));
      assert.equal(log.seq, s.seq);
      assert.deepEqual(log.events.map((e: Json) => e.type), [
        "status",
        "status",
        "progress",
        "status",
        "prompt",
        "answer",
        "status",
        "progress",
        "artifact",
        "progress",
        "result",
        "status",
      ]);
      const after =
        await (await a.json("GET", `/api/v1/sessions/${created.id}/events?after=10`, undefined, ADMIN))
          .json();
      assert.deepEqual(after.events.map((e: Json) => e.seq), [11, 12]);

      const list = await (await a.json("GET", `/api/v1/sessions/${created.id}/artifacts`, undefined, ADMIN))
        .json();
      assert.deepEqual(list.artifacts.map((x: Json) => [x.name, x.content_type, x.size]), [
        ["greeting.txt", "text/plain; charset=utf-8", 25],
      ]);
      const file = await a.app.request(`/api/v1/sessions/${created.id}/artifacts/greeting.txt`, {
        headers: ADMIN,
      });
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await file.text(), "Welcome, code of 6 digits");
      const missing = await a.app.request(`/api/v1/sessions/${created.id}/artifacts/nope.txt`, {
        headers: ADMIN,
      });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      assert.equal(pool.openContexts, 0);
    });

    await spec(
      "POST /api/v1/sessions answers 404 for an unknown flow and 422 naming the input fields",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const unknown = await a.json("POST", "/api/v1/sessions", { flow: "nope", input: {} }, ADMIN);
        assert.equal(unknown.status, 404);
        assert.match((await problem(unknown)).detail as string, /Unknown flow "nope"/);
        const bad = await a.json(
          "POST",
          "/api/v1/sessions",
          { flow: "test-ask-code", input: { name: 5 } },
          ADMIN,
        );
        assert.equal(bad.status, 422);
        assert.deepEqual(((await problem(bad)).errors as Json[]).map((e) => e.field), ["input.name"]);
        const url = await a.json("POST", "/api/v1/sessions", {
          flow: "test-ask-code",
          input: { name: "x" },
          webhook_url: "ftp://x",
        }, ADMIN);
        assert.equal(url.status, 422);
        assert.deepEqual(((await problem(url)).errors as Json[]).map((e) => e.field), ["webhook_url"]);
        assert.equal((await a.db.db.select().from(automationSessions)).length, 0, "nothing was stored");
      },
    );

    await spec(
      "a session is followed live over SSE, which ends after the final event and honours Last-Event-ID",
      async () => {
        await using a = await automationApp(pool, portal.url);
        await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
        const base = `http://127.0.0.1:${server.addr.port}`;
        const created = await (await a.json(
          "POST",
          "/api/v1/sessions",
          { flow: "test-ask-code", input: { name: "Sue" } },
          ADMIN,
        ))
          .json();
        const res = await fetch(`${base}/api/v1/sessions/${created.id}/events`, {
          headers: { ...ADMIN, accept: "text/event-stream" },
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/event-stream");
        const seen: { id?: string; event: string; data: Json }[] = [];
        await readSse(res, async (e) => {
          seen.push(e);
          if (e.event === "prompt") {
            const r = await fetch(`${base}/api/v1/sessions/${created.id}/input`, {
              method: "POST",
              headers: { ...ADMIN, "content-type": "application/json" },
              body: JSON.stringify({ prompt: e.data.prompt.id, value: "42" }),
            });
            assert.equal(r.status, 202);
            await r.body?.cancel();
          }
        });
        // The stream ended by itself after the final status.
        const last = seen[seen.length - 1];
        assert.equal(last.event, "status");
        assert.equal(last.data.status, "succeeded");
        assert.deepEqual(seen.map((e) => Number(e.id)), seen.map((_, i) => i + 1));
        assert.deepEqual(seen.map((e) => e.data.seq), seen.map((_, i) => i + 1));
        const result = seen.find((e) => e.event === "result")!;
        assert.equal(result.data.result.greeting, "Welcome, code of 2 digits");
        const progress = seen.find((e) => e.event === "progress")!;
        assert.deepEqual([progress.data.percentage, progress.data.key, progress.data.value], [
          10,
          "page",
          "Test portal",
        ]);

        const resumed: number[] = [];
        const again = await fetch(`${base}/api/v1/sessions/${created.id}/events`, {
          headers: { ...ADMIN, accept: "text/event-stream", "last-event-id": String(seen.length - 2) },
        });
        await readSse(again, (e) => void resumed.push(Number(e.id)));
        assert.deepEqual(resumed, [seen.length - 1, seen.length]);
        const done = await fetch(`${base}/api/v1/sessions/${created.id}/events?after=${seen.length}`, {
          headers: { ...ADMIN, accept: "text/event-stream" },
        });
        assert.equal(await done.text(), "", "a finished session's stream after its last event is empty");
      },
    );

    await spec(
      "a WebSocket client that drops can re-attach with after=SEQ and gets the missed events, then live ones",
      async () => {
        await using a = await automationApp(pool, portal.url);
        await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
        const origin = `127.0.0.1:${server.addr.port}`;
        const created = await (await a.json("POST", "/api/v1/sessions", {
          flow: "test-ask-code",
          input: { name: "Wes", note: true },
        }, ADMIN)).json();
        const ticketUrl = created.ws_url.replace("ws://localhost", `ws://${origin}`);
        const first = socket(ticketUrl);
        const prompt = await first.next((m) => m.type === "prompt", "the code prompt");
        assert.equal(prompt.prompt.kind, "code");
        const seenSeq = prompt.seq;
        assert.deepEqual(first.messages.map((m) => m.seq), first.messages.map((_, i) => i + 1));
        await first.close(); // the client drops; the session goes on

        const r = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
          prompt: prompt.prompt.id,
          value: "9999",
        }, ADMIN);
        assert.equal(r.status, 202);
        await r.body?.cancel();
        await waitFor(
          async () => (await a.automation.sessions.get(created.id)).prompt?.kind === "text",
          "the note prompt",
        );

        // Re-attach with headers this time (the ticket is single-purpose but may be reused within its minute).
        const second = socket(`ws://${origin}/api/v1/sessions/${created.id}/ws?after=${seenSeq}`, ADMIN);
        const note = await second.next((m) => m.type === "prompt", "the replayed note prompt");
        assert.equal(note.prompt.kind, "text");
        const replayed = second.messages.filter((m) => m.seq <= note.seq);
        assert.deepEqual(
          replayed.map((m) => m.seq),
          replayed.map((_, i) => seenSeq + 1 + i),
          "no gap, no repeat",
        );
        assert.deepEqual(replayed.map((m) => m.type).slice(0, 3), ["answer", "status", "progress"]);
        assert.equal(replayed[0].value, undefined, "a secret answer is not echoed");

        second.send({ type: "input", prompt: "p_wrong", value: "x" });
        const refused = await second.next((m) => m.type === "error" && m.seq === null, "a refusal");
        assert.equal(refused.status, 409);
        second.send({ type: "input", prompt: note.prompt.id, value: "thanks" });
        const result = await second.next((m) => m.type === "result", "the result");
        assert.equal(result.result.note, "thanks");
        const end = await second.closed;
        assert.equal(end.code, 1000, "the server closes the socket after the final event");
        assert.equal(second.messages.at(-1)!.status, "succeeded");
        const answer = second.messages.find((m) => m.type === "answer" && m.prompt === note.prompt.id)!;
        assert.equal(answer.value, "thanks", "a non-secret answer is in the log");

        // Attaching to an ended session after its last event: its status, then the server hangs up.
        const lastSeq = second.messages.at(-1)!.seq;
        const third = socket(`ws://${origin}/api/v1/sessions/${created.id}/ws?after=${lastSeq}`, ADMIN);
        assert.equal((await third.closed).code, 1000);
        assert.deepEqual(third.messages.map((m) => [m.type, m.seq, m.status]), [[
          "status",
          lastSeq,
          "succeeded",
        ]]);
      },
    );

    await spec(
      "GET /ws starts a session with its first message; sockets need a ticket or credentials",
      async () => {
        await using a = await automationApp(pool, portal.url);
        await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
        const origin = `127.0.0.1:${server.addr.port}`;
        const anon = await fetch(`http://${origin}/ws`, { headers: { upgrade: "websocket" } });
        assert.equal(anon.status, 401);
        await anon.body?.cancel();
        const tk = await a.json("POST", "/api/v1/ws/tickets", undefined, ADMIN);
        assert.equal(tk.status, 201);
        const { ws_url } = await tk.json();
        const c = socket(ws_url.replace("ws://localhost", `ws://${origin}`));
        await c.opened;
        c.send({ type: "start", flow: "test-ask-code", input: {} });
        const bad = await c.next((m) => m.type === "error", "a 422");
        assert.equal(bad.status, 422);
        assert.deepEqual(bad.errors.map((e: Json) => e.field), ["input.name"]);
        c.send({ type: "start", flow: "test-ask-code", input: { name: "Zed" } });
        const prompt = await c.next((m) => m.type === "prompt", "the prompt");
        c.send({ type: "cancel" });
        const status = await c.next((m) => m.type === "status" && m.status === "cancelled", "cancelled");
        assert.ok(status.seq > prompt.seq);
        await c.closed;
        // A session ticket does not open /ws, nor another session's socket.
        const s2 = await (await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN))
          .json();
        const ticket = new URL(s2.ws_url).searchParams.get("ticket")!;
        const wrong = await fetch(`http://${origin}/ws?ticket=${ticket}`, {
          headers: { upgrade: "websocket" },
        });
        assert.equal(wrong.status, 401);
        await wrong.body?.cancel();
        await a.automation.sessions.cancel(s2.id);
      },
    );

    await spec(
      "a QR prompt streams every frame to live followers, serves the latest as PNG, and stores few",
      async () => {
        await using a = await automationApp(pool, portal.url);
        await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
        const origin = `127.0.0.1:${server.addr.port}`;
        const created =
          await (await a.json("POST", "/api/v1/sessions", { flow: "test-qr", input: {} }, ADMIN)).json();
        const c = socket(`ws://${origin}/api/v1/sessions/${created.id}/ws`, ADMIN);
        const prompt = await c.next((m) => m.type === "prompt", "the qr prompt");
        assert.equal(prompt.prompt.kind, "qr");
        assert.equal(prompt.prompt.has_image, true);
        await waitFor(() => c.messages.filter((m) => m.type === "image").length >= 6, "six frames");
        const frames = c.messages.filter((m) => m.type === "image");
        assert.ok(new Set(frames.map((f) => f.image)).size >= 6, "frames differ");
        assert.ok(
          frames.every((f) => f.image.startsWith("data:image/png;base64,") && f.prompt === prompt.prompt.id),
        );

        const img = await a.app.request(`/api/v1/sessions/${created.id}/image`, { headers: ADMIN });
        assert.equal(img.status, 200);
        assert.equal(img.headers.get("content-type"), "image/png");
        const png = new Uint8Array(await img.arrayBuffer());
        assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
        const view = await (await a.json("GET", `/api/v1/sessions/${created.id}`, undefined, ADMIN)).json();
        assert.match(view.prompt.image, /^data:image\/png;base64,/);

        // A late follower gets the current frame right after the replay.
        const late = socket(`ws://${origin}/api/v1/sessions/${created.id}/ws?after=${prompt.seq}`, ADMIN);
        await late.next((m) => m.type === "image", "the current frame");
        await late.close();

        const r = await a.json("POST", `/api/v1/sessions/${created.id}/input`, {
          prompt: prompt.prompt.id,
          value: "scanned",
        }, ADMIN);
        assert.equal(r.status, 202);
        await r.body?.cancel();
        const result = await c.next((m) => m.type === "result", "the result");
        assert.deepEqual(result.result, { scanned: true, answer: "scanned" });
        await c.closed;
        const stored = await a.db.db.select().from(automationEvents).where(
          eq(automationEvents.sessionId, created.id),
        );
        assert.equal(stored.filter((e) => e.type === "image").length, 0, "frames are not rows in the log");
        assert.ok(stored.every((e) => !JSON.stringify(e.data).includes("base64")), "no image in the log");
        const [row] = await a.db.db.select().from(automationSessions).where(
          eq(automationSessions.id, created.id),
        );
        assert.equal(row.promptImage, null, "the image goes with its prompt");
        const gone = await a.app.request(`/api/v1/sessions/${created.id}/image`, { headers: ADMIN });
        assert.equal(gone.status, 404);
        await gone.body?.cancel();
      },
    );

    await spec(
      "credentials and choice answers are checked against the prompt (422 names the fields)",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-forms", {});
        const p1 = (await waitFor(async () =>
          (await a.automation.sessions.get(id)).prompt, "credentials")).id;
        const missing = await a.json("POST", `/api/v1/sessions/${id}/input`, {
          prompt: p1,
          value: { username: "bob" },
        }, ADMIN);
        assert.equal(missing.status, 422);
        assert.deepEqual(((await problem(missing)).errors as Json[]).map((e) => e.field), ["value.password"]);
        const str = await a.json("POST", `/api/v1/sessions/${id}/input`, { prompt: p1, value: "bob" }, ADMIN);
        assert.equal(str.status, 422);
        await str.body?.cancel();
        const ok = await a.json("POST", `/api/v1/sessions/${id}/input`, {
          prompt: p1,
          value: { username: "bob", password: "hunter2-secret" },
        }, ADMIN);
        assert.equal(ok.status, 202);
        await ok.body?.cancel();
        const p2 = await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "choice");
        assert.equal(p2.kind, "choice");
        const wrong = await a.json(
          "POST",
          `/api/v1/sessions/${id}/input`,
          { prompt: p2.id, value: "c" },
          ADMIN,
        );
        assert.equal(wrong.status, 422);
        assert.match(((await problem(wrong)).errors as Json[])[0].message, /one of a, b/);
        await a.automation.sessions.answer(id, p2.id, "b");
        const done = await a.automation.sessions.waitForEvent(id, 0, 0);
        const end = await waitFor(async () => {
          const s = await a.automation.sessions.get(id);
          return s.status === "succeeded" && s;
        }, "success");
        assert.ok(done);
        assert.deepEqual(end.result, { user: "bob", pick: "b" });
      },
    );

    await spec("secret answers never reach the database or the logs", async () => {
      await using a = await automationApp(pool, portal.url, { LOG_LEVEL: "debug" });
      const code = "739154";
      const password = "pa55-word-never-stored";
      const s1 = await a.automation.sessions.start("admin", "test-ask-code", { name: "Kim" });
      const p = await waitFor(async () => (await a.automation.sessions.get(s1.id)).prompt, "code prompt");
      const r = await a.json("POST", `/api/v1/sessions/${s1.id}/input`, { prompt: p.id, value: code }, ADMIN);
      assert.equal(r.status, 202);
      await r.body?.cancel();
      const s2 = await a.automation.sessions.start("admin", "test-forms", {});
      const p2 = await waitFor(
        async () => (await a.automation.sessions.get(s2.id)).prompt,
        "credentials prompt",
      );
      await a.automation.sessions.answer(s2.id, p2.id, { username: "bob", password });
      await waitFor(
        async () => (await a.automation.sessions.get(s1.id)).status === "succeeded",
        "s1 success",
      );
      await a.automation.sessions.cancel(s2.id);
      const dump = JSON.stringify([
        await a.db.db.select().from(automationEvents),
        await a.db.db.select().from(automationSessions),
      ]);
      assert.ok(dump.includes('"answer"'), "the answers are recorded as having arrived");
      assert.ok(!dump.includes(code), "the code is in the database");
      assert.ok(!dump.includes(password), "the password is in the database");
      assert.ok(a.log.lines.some((l) => l.includes('"session finished"')), "the sessions were logged");
      const logs = a.log.lines.join("\n");
      assert.ok(!logs.includes(code) && !logs.includes(password), "a secret is in the logs");
    });

    await spec(
      "DELETE /api/v1/sessions/:id cancels and has closed the browser context when it answers",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-hang", {});
        await waitFor(async () => (await a.automation.sessions.get(id)).progress === 5, "the page to open");
        assert.equal(pool.openContexts, 1);
        assert.equal(pool.browser!.browserContexts().length, 2);
        const res = await a.json("DELETE", `/api/v1/sessions/${id}`, undefined, ADMIN);
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.equal(body.status, "cancelled");
        assert.equal(pool.openContexts, 0);
        assert.equal(pool.browser!.browserContexts().length, 1);
        // The reaper closes contexts nobody owns (e.g. leaked by a failed open).
        await pool.browser!.createBrowserContext();
        assert.equal(pool.browser!.browserContexts().length, 2);
        await a.automation.reaper.tick();
        assert.equal(pool.browser!.browserContexts().length, 1);
        const again = await a.json("DELETE", `/api/v1/sessions/${id}`, undefined, ADMIN);
        assert.equal((await again.json()).status, "cancelled", "cancelling twice changes nothing");
        const answer = await a.json(
          "POST",
          `/api/v1/sessions/${id}/input`,
          { prompt: "p_x", value: "1" },
          ADMIN,
        );
        assert.equal(answer.status, 409);
        await answer.body?.cancel();
      },
    );

    await spec(
      "an unanswered prompt ends the session as expired after SESSION_PROMPT_TIMEOUT_S",
      async () => {
        await using a = await automationApp(pool, portal.url, { SESSION_PROMPT_TIMEOUT_S: "240" });
        const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Tim" });
        await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "the prompt");
        a.clock.advance(239_000);
        await a.automation.reaper.tick();
        assert.equal((await a.automation.sessions.get(id)).status, "waiting");
        a.clock.advance(2_000);
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "expired" && v;
        }, "expiry");
        assert.equal(s.error, "No answer to the code prompt within 240 s");
        assert.equal(s.prompt, null);
        assert.equal(pool.openContexts, 0);
      },
    );

    await spec("a session ends as expired after SESSION_MAX_S, even when queued or busy", async () => {
      await using a = await automationApp(pool, portal.url, { SESSION_MAX_S: "60", MAX_SESSIONS: "1" });
      const busy = await a.automation.sessions.start("admin", "test-hang", {});
      const queued = await a.automation.sessions.start("admin", "test-hang", {});
      await waitFor(
        async () => (await a.automation.sessions.get(busy.id)).progress === 5,
        "the page to open",
      );
      assert.equal((await a.automation.sessions.get(queued.id)).status, "queued");
      a.clock.advance(60_000);
      for (const id of [busy.id, queued.id]) {
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "expired" && v;
        }, "expiry");
        assert.equal(s.error, "The session reached its maximum lifetime of 60 s");
      }
      assert.equal(pool.openContexts, 0);
      assert.equal(pool.browser!.browserContexts().length, 1);
    });

    await spec(
      "POST /api/v1/sessions answers 429 with Retry-After when MAX_SESSIONS run and MAX_QUEUE wait",
      async () => {
        await using a = await automationApp(pool, portal.url, { MAX_SESSIONS: "1", MAX_QUEUE: "1" });
        const first =
          await (await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN)).json();
        const second = await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN);
        assert.equal(second.status, 201);
        const queued = await second.json();
        assert.equal(queued.status, "queued");
        const third = await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN);
        assert.equal(third.status, 429);
        assert.equal(third.headers.get("retry-after"), "10");
        assert.match(
          (await problem(third)).detail as string,
          /browser pool is full \(1 of 1 running, 1 of 1 queued\)/,
        );
        await a.automation.sessions.cancel(first.id);
        await waitFor(
          async () => (await a.automation.sessions.get(queued.id)).progress === 5,
          "the queued one to run",
        );
        await a.automation.sessions.cancel(queued.id);
      },
    );

    await spec(
      "a killed browser fails its sessions with a clear error, and the next session gets a new browser",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-hang", {});
        await waitFor(async () => (await a.automation.sessions.get(id)).progress === 5, "the page to open");
        const old = pool.browser!;
        old.process()!.kill("SIGKILL");
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "failed" && v;
        }, "the failure");
        assert.equal(s.error, BROWSER_CRASHED);
        assert.equal(pool.openContexts, 0);
        const next = await a.automation.sessions.start("admin", "test-quick", { n: 1 });
        const done = await waitFor(async () => {
          const v = await a.automation.sessions.get(next.id);
          return v.finished_at ? v : null;
        }, "the next session");
        assert.equal(done.status, "succeeded", done.error ?? "");
        assert.notEqual(pool.browser, old);
      },
    );

    await spec(
      "a flow's FlowError fails the session with its message and step; other errors are reported generically",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const e1 = await a.automation.sessions.start("admin", "test-fail", {});
        const e2 = await a.automation.sessions.start("admin", "test-fail", { expected: false });
        const ended = async (id: string) => {
          const v = await a.automation.sessions.get(id);
          return v.finished_at ? v : null;
        };
        const f1 = await waitFor(() => ended(e1.id), "fail 1");
        const f2 = await waitFor(() => ended(e2.id), "fail 2");
        assert.deepEqual([f1.status, f1.error, f1.error_step], [
          "failed",
          "No vehicle found with plate ZZZ999",
          "search",
        ]);
        assert.deepEqual([f2.status, f2.error], ["failed", "The flow test-fail failed unexpectedly: boom"]);
      },
    );

    await spec("users see only their own sessions; admins see all", async () => {
      await using a = await automationApp(pool, portal.url);
      const ann = await a.login();
      const bob = await a.login();
      const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });
      const mine = await (await a.json(
        "POST",
        "/api/v1/sessions",
        { flow: "test-hang", input: {} },
        auth(ann.access_token),
      ))
        .json();
      assert.equal(mine.owner, `user:${ann.user.id}`);
      const peek = await a.json("GET", `/api/v1/sessions/${mine.id}`, undefined, auth(bob.access_token));
      assert.equal(peek.status, 404);
      await peek.body?.cancel();
      const kill = await a.json("DELETE", `/api/v1/sessions/${mine.id}`, undefined, auth(bob.access_token));
      assert.equal(kill.status, 404);
      await kill.body?.cancel();
      const bobs = await (await a.json("GET", "/api/v1/sessions", undefined, auth(bob.access_token))).json();
      assert.deepEqual(bobs.sessions, []);
      const anns = await (await a.json(
        "GET",
        "/api/v1/sessions?status=queued,running,waiting",
        undefined,
        auth(ann.access_token),
      ))
        .json();
      assert.deepEqual(anns.sessions.map((s: Json) => s.id), [mine.id]);
      const all = await (await a.json("GET", "/api/v1/sessions", undefined, ADMIN)).json();
      assert.deepEqual(all.sessions.map((s: Json) => s.id), [mine.id]);
      const bad = await a.json("GET", "/api/v1/sessions?status=nope", undefined, ADMIN);
      assert.equal(bad.status, 422);
      await bad.body?.cancel();
      const none = await a.json("GET", "/api/v1/sessions/not-a-uuid", undefined, ADMIN);
      assert.equal(none.status, 404);
      await none.body?.cancel();
      await a.automation.sessions.cancel(mine.id);
    });

    await spec(
      "webhook_url receives each status, prompt and the finish, signed per Standard Webhooks",
      async () => {
        const secret = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
        const received: { headers: Headers; body: string }[] = [];
        await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
          received.push({ headers: req.headers, body: await req.text() });
          return new Response(null, { status: 204 });
        });
        await using a = await automationApp(pool, portal.url, { WEBHOOK_SECRET: secret });
        const domain: string[] = [];
        a.deps.events.on("session.", (e) => void domain.push(e.type));
        const res = await a.json("POST", "/api/v1/sessions", {
          flow: "test-ask-code",
          input: { name: "Hook" },
          webhook_url: `http://127.0.0.1:${hook.addr.port}/hooks?token=t`,
        }, ADMIN);
        const { id } = await res.json();
        const p = await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "prompt");
        await a.automation.sessions.answer(id, p.id, "1234");
        await waitFor(
          () => received.some((r) => JSON.parse(r.body).type === "session.finished"),
          "the finish hook",
        );
        const types = received.map((r) => JSON.parse(r.body).type);
        assert.deepEqual(types, [
          "session.created",
          "session.status",
          "session.status",
          "session.prompt",
          "session.status",
          "session.status",
          "session.finished",
        ]);
        for (const r of received) {
          const sig = signWebhook(
            secret,
            r.headers.get("webhook-id")!,
            Number(r.headers.get("webhook-timestamp")),
            r.body,
          );
          assert.equal(r.headers.get("webhook-signature"), sig);
          assert.equal(JSON.parse(r.body).data.session_id, id);
        }
        const prompt = JSON.parse(received[3].body).data.prompt;
        assert.equal(prompt.kind, "code");
        assert.ok(!received.some((r) => r.body.includes("1234")), "the answer is not sent");
      },
    );

    await spec("extend() pushes back the session and prompt deadlines", async () => {
      await using a = await automationApp(pool, portal.url, { SESSION_PROMPT_TIMEOUT_S: "240" });
      const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Ext" });
      await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "the prompt");
      const extended = await a.automation.sessions.extend(id, 100);
      assert.equal(Date.parse(extended.expires_at), a.clock.now().getTime() + 1000_000);
      a.clock.advance(300_000);
      await a.automation.reaper.tick();
      assert.equal((await a.automation.sessions.get(id)).status, "waiting");
      a.clock.advance(41_000);
      await waitFor(async () => (await a.automation.sessions.get(id)).status === "expired", "expiry");
      const log = await a.automation.sessions.events(id);
      assert.ok(log.some((e) => e.type === "extended"));
    });

    await spec("a missing Chromium fails the session with a message saying what to set", async () => {
      await using broken = new BrowserPool({
        executablePath: "/nonexistent/chrome",
        log: createLogger("silent"),
      });
      await using a = await automationApp(broken, portal.url);
      const { id } = await a.automation.sessions.start("admin", "test-quick", { n: 1 });
      const s = await waitFor(async () => {
        const v = await a.automation.sessions.get(id);
        return v.finished_at ? v : null;
      }, "the failure");
      assert.equal(s.status, "failed");
      assert.equal(s.error, "Cannot start the browser: CHROME_PATH /nonexistent/chrome does not exist");
    });

    await spec(
      "BROWSER_WS_ENDPOINT: sessions run in a remote browser, which the pool leaves running",
      async () => {
        const remote = await puppeteer.launch({
          executablePath: "/usr/bin/chromium",
          headless: true,
          args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
        });
        try {
          const remotePool = new BrowserPool({
            wsEndpoint: remote.wsEndpoint(),
            log: createLogger("silent"),
          });
          {
            await using a = await automationApp(remotePool, portal.url);
            const { id } = await a.automation.sessions.start("admin", "test-quick", { n: 7 });
            const s = await waitFor(async () => {
              const v = await a.automation.sessions.get(id);
              return v.finished_at ? v : null;
            }, "the remote session");
            assert.equal(s.status, "succeeded", s.error ?? "");
            assert.deepEqual(s.result, { n: 7, two: 2 });
          }
          await remotePool.close();
          assert.ok(remote.connected, "closing the pool does not close a remote browser");
          assert.equal(remote.browserContexts().length, 1);
        } finally {
          await remote.close();
        }
      },
    );

    await spec("after 200 sessions the browser holds no context but its default one", async () => {
      await using a = await automationApp(pool, portal.url, { MAX_SESSIONS: "8", MAX_QUEUE: "200" });
      const ids: string[] = [];
      for (let n = 0; n < 200; n++) {
        ids.push((await a.automation.sessions.start("admin", "test-quick", { n })).id);
      }
      await waitFor(
        async () => {
          const rows = await a.db.db.select({ status: automationSessions.status }).from(automationSessions);
          return rows.every((r) => r.status === "succeeded" || r.status === "failed");
        },
        "200 sessions to end",
        180_000, // ~45 s on an idle 2-core machine; the slack is for a busy one
      );
      const rows = await a.automation.sessions.list({ limit: 200 });
      assert.equal(rows.filter((r) => r.status === "succeeded").length, 200);
      assert.deepEqual(rows.map((r) => (r.result as Json).n).sort((x, y) => x - y), ids.map((_, i) => i));
      assert.equal(pool.openContexts, 0);
      assert.equal(pool.browser!.browserContexts().length, 1);
    });

    await spec("at start, sessions a previous run left active are marked failed (interrupted)", async () => {
      await using a = await testApp();
      const now = a.clock.now();
      const rows = ["queued", "running", "waiting", "succeeded"].map((status) => ({
        id: crypto.randomUUID(),
        owner: "admin",
        flow: "test-hang",
        status,
        input: {},
        seq: 1,
        prompt: status === "waiting" ? { id: "p_1", kind: "code" } : null,
        promptImage: status === "waiting" ? tinyPng(1) : null,
        createdAt: now,
        updatedAt: now,
        expiresAt: new Date(now.getTime() + 900_000),
      }));
      await a.db.db.insert(automationSessions).values(rows);
      await a.db.db.insert(automationEvents).values(
        rows.map((r) => ({ sessionId: r.id, seq: 1, type: "status", data: { status: r.status }, at: now })),
      );
      assert.equal(await markInterrupted(a.deps), 3);
      const after = await a.db.db.select().from(automationSessions);
      for (const r of rows) {
        const row = after.find((x) => x.id === r.id)!;
        if (r.status === "succeeded") {
          assert.equal(row.status, "succeeded");
          continue;
        }
        assert.deepEqual([row.status, row.error, row.prompt, row.promptImage, row.seq], [
          "failed",
          INTERRUPTED,
          null,
          null,
          3,
        ]);
        const events = await a.db.db.select().from(automationEvents).where(
          eq(automationEvents.sessionId, r.id),
        )
          .orderBy(automationEvents.seq);
        assert.deepEqual(events.map((e) => [e.seq, e.type]), [[1, "status"], [2, "error"], [3, "status"]]);
        assert.deepEqual(events[2].data, { status: "failed", error: INTERRUPTED });
      }
      assert.equal(await markInterrupted(a.deps), 0, "a second run finds nothing");
    });

    await spec("the session routes answer 503 when automation is not configured", async () => {
      await using a = await testApp();
      for (const path of ["/api/v1/flows", "/api/v1/sessions"]) {
        const res = await a.json("GET", path, undefined, ADMIN);
        assert.equal(res.status, 503);
        await res.body?.cancel();
      }
    });
  } finally {
    await pool.close();
    await portal.shutdown();
  }
  assert.equal(pool.browser, undefined);
  assert.ok(pool.profileDirs.length >= 2, "the crash test relaunched the browser");
  for (const dir of pool.profileDirs) {
    await assert.rejects(
      Deno.stat(dir),
      Deno.errors.NotFound,
      `the temporary profile ${dir} was left behind`,
    );
  }
});
