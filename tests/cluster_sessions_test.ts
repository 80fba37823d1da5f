/** cluster: a session run by instance A is followed and answered on instance B (same database, real Chromium). */
import assert from "node:assert/strict";
import { createDb, type DbHandle } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { COMMAND_CHANNEL } from "../src/automation/commands.ts";
import { createAutomation } from "../src/automation/mod.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { ADMIN, testFlows, waitFor, withSharedBrowser } from "./automation_fixtures.ts";
import { testConfig } from "./helpers.ts";
import { problem, recordingLogger, testApp } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("a session started on A is followed and answered on B, the answer sealed in transit", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
    await spec("long-poll on B wakes with A's events; B's answer and refusals come from A", async () => {
      await using a = await testApp();
      // A relays through its database handle, as main.ts wires it.
      const automationA = createAutomation(a.deps, {
        flows: testFlows,
        pool,
        portalUrl: portal.url,
        cluster: a.db,
      });
      a.deps.automation = automationA;
      const appA = createApp(a.deps);

      let own: DbHandle | undefined;
      if (a.db.kind === "postgres") {
        const url = new URL(Deno.env.get("DATABASE_URL")!);
        url.pathname = new URL(a.db.location).pathname;
        own = await createDb({ url: url.toString(), poolSize: 3 });
      }
      const handleB = own ?? a.db;
      const baseB: Deps = { ...a.deps, db: handleB.db, events: new EventBus(), log: recordingLogger() };
      let automationB: ReturnType<typeof createAutomation> | undefined;
      let appB!: ReturnType<typeof createApp>;
      const sealed: string[] = [];
      const unlisten = await a.db.listen(COMMAND_CHANNEL, (p) => sealed.push(p));
      const call = (app: typeof appA, method: string, path: string, body?: unknown) =>
        Promise.resolve(app.request(path, {
          method,
          headers: { ...ADMIN, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }));
      try {
        const res = await call(appA, "POST", "/api/v1/sessions", {
          flow: "test-ask-code",
          input: { name: "Ann" },
        });
        assert.equal(res.status, 201);
        const created = await res.json();
        // placement: B starts once A has claimed the session, so B cannot claim it for its free slot
        while ((await automationA.sessions.get(created.id)).status === "queued") {
          await new Promise((r) => setTimeout(r, 20));
        }
        automationB = createAutomation(baseB, {
          flows: testFlows,
          pool,
          portalUrl: portal.url,
          cluster: handleB,
        });
        appB = createApp({ ...baseB, automation: automationB });
        let s: Json = created;
        while (!s.prompt) {
          const r = await call(appB, "GET", `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`);
          assert.equal(r.status, 200);
          s = await r.json();
        }
        assert.equal(s.status, "waiting");
        const stale = await call(appB, "POST", `/api/v1/sessions/${created.id}/input`, {
          prompt: "p_stale",
          value: "1",
        });
        assert.equal(stale.status, 409, "A's refusal reaches B's caller");
        assert.equal((await problem(stale)).status, 409);
        const ok = await call(appB, "POST", `/api/v1/sessions/${created.id}/input`, {
          prompt: s.prompt.id,
          value: "493817",
        });
        assert.equal(ok.status, 202);
        assert.deepEqual(await ok.json(), { status: "accepted", prompt: s.prompt.id });
        while (!["succeeded", "failed"].includes(s.status)) {
          const r = await call(appB, "GET", `/api/v1/sessions/${created.id}?wait=10&after=${s.seq}`);
          s = await r.json();
        }
        assert.equal(s.status, "succeeded", s.error);
        assert.equal(s.result.greeting, "Welcome, code of 6 digits");
        assert.ok(sealed.length >= 2, "commands and replies went over the channel");
        assert.ok(sealed.every((p) => !p.includes("493817")), "the answer never travels in clear");
      } finally {
        await unlisten();
        await automationB?.close();
        await automationA.close();
        await own?.close();
      }
    });
  });
});

Deno.test("placement: a session queued while A is full runs on B, and MAX_QUEUE is one queue for both", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
    await spec(
      "B claims what A admitted; a third waits with its place; the next is refused on B",
      async () => {
        await using a = await testApp({ config: { MAX_SESSIONS: "1", MAX_QUEUE: "1" } });
        const one = { MAX_SESSIONS: "1", MAX_QUEUE: "1" };
        const automationA = createAutomation(a.deps, {
          flows: testFlows,
          pool,
          portalUrl: portal.url,
          cluster: a.db,
        });
        let own: DbHandle | undefined;
        if (a.db.kind === "postgres") {
          const url = new URL(Deno.env.get("DATABASE_URL")!);
          url.pathname = new URL(a.db.location).pathname;
          own = await createDb({ url: url.toString(), poolSize: 3 });
        }
        const handleB = own ?? a.db;
        const baseB: Deps = {
          ...a.deps,
          config: testConfig(one),
          db: handleB.db,
          events: new EventBus(),
          log: recordingLogger(),
        };
        const automationB = createAutomation(baseB, {
          flows: testFlows,
          pool,
          portalUrl: portal.url,
          cluster: handleB,
        });
        const started: string[] = [];
        try {
          // whichever claims the first is the full one; the other must take the second
          const busy = await automationA.sessions.start("admin", "test-hang", {});
          started.push(busy.id);
          const [full, idle] = await waitFor(
            () =>
              automationA.sessions.runsHere(busy.id)
                ? [automationA, automationB]
                : automationB.sessions.runsHere(busy.id) && [automationB, automationA],
            "an instance to run the first",
          );
          const second = await full.sessions.start("admin", "test-hang", {});
          started.push(second.id);
          await waitFor(() => idle.sessions.runsHere(second.id), "the idle instance to claim the second");
          const third = await full.sessions.start("admin", "test-hang", {});
          started.push(third.id);
          assert.equal(third.status, "queued");
          assert.equal(third.queue_position, 1);
          await assert.rejects(
            () => idle.sessions.start("admin", "test-hang", {}),
            /browser pool is full \(1 of 1 running, 1 of 1 queued\)/,
          );
          await idle.sessions.cancel(second.id);
          await waitFor(() => idle.sessions.runsHere(third.id), "the freed instance to claim the third");
        } finally {
          await automationB.close();
          await automationA.close();
          await own?.close();
        }
      },
    );
  });
});
