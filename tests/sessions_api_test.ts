/**
 * Automation sessions over the REST API: flows, the long-poll, input checks, secrets, visibility, restarts.
 * One browser pool per file (see withSharedBrowser); every step must leave no browser context open.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { automationEvents, automationSessions } from "../db/schema.ts";
import { markInterrupted } from "../src/automation/mod.ts";
import { INTERRUPTED } from "../src/automation/sessions.ts";
import { problem, testApp } from "./helpers.ts";
import { ADMIN, automationApp, tinyPng, waitFor, withSharedBrowser } from "./automation_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("automation sessions over REST, with real Chromium", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
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
  });
});
