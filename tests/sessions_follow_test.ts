/**
 * Following automation sessions: SSE, WebSocket re-attach, the /ws socket, QR frames, webhooks.
 * One browser pool per file (see withSharedBrowser); every step must leave no browser context open.
 */
import { readSse, socket } from "./e2e_fixtures.ts";
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { automationEvents, automationSessions, webhookMessages } from "../db/schema.ts";
import { createWebhookWorker } from "../src/webhooks/mod.ts";
import { signWebhook } from "../src/webhooks/signing.ts";
import { ADMIN, automationApp, waitFor, withSharedBrowser } from "./automation_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("following automation sessions over SSE, WebSocket and webhooks, with real Chromium", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
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
        // every new frame reaches the follower (the current one may come twice: at attach and as published)
        const images = () => c.messages.filter((m) => m.type === "image");
        await waitFor(() => new Set(images().map((f) => f.image)).size >= 6, "six different frames");
        const frames = images();
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
      "webhook_url receives each status, prompt and the finish, signed per Standard Webhooks",
      async () => {
        const secret = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
        const received: { url: string; headers: Headers; body: string }[] = [];
        await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
          received.push({ url: req.url, headers: req.headers, body: await req.text() });
          return new Response(null, { status: 204 });
        });
        await using a = await automationApp(pool, portal.url, { WEBHOOK_SECRET: secret });
        // webhooks: the durable outbox's delivery worker, logging into the app's recorded lines
        await using _worker = createWebhookWorker(a.deps, { pollMs: 10 }).start();
        const res = await a.json("POST", "/api/v1/sessions", {
          flow: "test-ask-code",
          input: { name: "Hook" },
          webhook_url: `http://127.0.0.1:${hook.addr.port}/hooks?token=hook-token-5150`,
        }, ADMIN);
        const { id } = await res.json();
        const p = await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "prompt");
        await a.automation.sessions.answer(id, p.id, "1234");
        await waitFor(
          () => received.some((r) => JSON.parse(r.body).type === "session.completed"),
          "the completed hook",
        );
        const types = received.map((r) => JSON.parse(r.body).type);
        assert.deepEqual(types, [
          "session.started",
          "session.progress",
          "session.prompt",
          "session.progress",
          "session.progress",
          "session.completed",
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
        const prompt = JSON.parse(received[2].body).data.prompt;
        assert.equal(prompt.kind, "code");
        assert.ok(!received.some((r) => r.body.includes("1234")), "the answer is not sent");
        // The URL's token reaches the target but is sealed at rest and never logged (issue 15, item 11).
        assert.ok(received.every((r) => r.url.endsWith("/hooks?token=hook-token-5150")));
        const [session] = await a.db.db.select().from(automationSessions).where(
          eq(automationSessions.id, id),
        );
        const messages = await a.db.db.select().from(webhookMessages);
        for (const stored of [session.webhookUrl, ...messages.map((m) => m.url)]) {
          assert.match(String(stored), /^sealed:v1\./);
        }
        assert.ok(!a.log.lines.some((l) => l.includes("hook-token-5150")), "no log line holds the token");
      },
    );
    await spec(
      "a follower that attaches while the session waits in the queue gets its live QR frames once this instance runs it",
      async () => {
        await using a = await automationApp(pool, portal.url, { MAX_SESSIONS: "1" });
        const sessions = a.automation.sessions;
        const busy = await sessions.start("admin", "test-ask-code", { name: "Ann" });
        await waitFor(
          async () => (await sessions.get(busy.id)).status === "waiting",
          "the first session's prompt",
        );
        const queued = await sessions.start("admin", "test-qr", {});
        assert.equal((await sessions.get(queued.id)).status, "queued");
        const seen: Json[] = [];
        const off = sessions.subscribe(queued.id, 0, (e) => seen.push(e));
        try {
          await sessions.cancel(busy.id); // frees the one slot: this instance claims the queued session
          const frames = () => new Set(seen.filter((e) => e.type === "image").map((e) => e.data.image));
          await waitFor(() => frames().size >= 3, "three distinct QR frames on the follower");
          const prompt = seen.find((e) => e.type === "prompt")!;
          await sessions.answer(queued.id, prompt.data.prompt.id, "scanned");
          await waitFor(
            () => seen.some((e) => e.type === "status" && e.data.status === "succeeded"),
            "the end",
          );
        } finally {
          off();
        }
      },
    );
  });
});
