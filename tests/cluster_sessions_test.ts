/** cluster: a session run by instance A is followed and answered on instance B (same database, real Chromium). */
import assert from "node:assert/strict";
import { createDb, type DbHandle } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { COMMAND_CHANNEL } from "../src/automation/commands.ts";
import { createAutomation } from "../src/automation/mod.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { ADMIN, testFlows, withSharedBrowser } from "./automation_fixtures.ts";
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
      const automationB = createAutomation(baseB, {
        flows: testFlows,
        pool,
        portalUrl: portal.url,
        cluster: handleB,
      });
      const appB = createApp({ ...baseB, automation: automationB });
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
        await automationB.close();
        await automationA.close();
        await own?.close();
      }
    });
  });
});
