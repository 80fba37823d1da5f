/** placement under a burst (issue 16): free slots take new sessions at once; MAX_QUEUE counts only what waits. */
import assert from "node:assert/strict";
import { createAutomation } from "../src/automation/mod.ts";
import { testFlows, withSharedBrowser } from "./automation_fixtures.ts";
import { testApp } from "./helpers.ts";

Deno.test("placement: a burst within MAX_SESSIONS runs at once, whatever MAX_QUEUE says", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
    await spec(
      "six concurrent starts (MAX_SESSIONS 6, MAX_QUEUE 1) all run here; the seventh waits; the eighth is 429",
      async () => {
        await using a = await testApp({
          config: { MAX_SESSIONS: "6", MAX_QUEUE: "1", MAX_SESSIONS_PER_API_KEY: "0" },
        });
        const automation = createAutomation(a.deps, {
          flows: testFlows,
          pool,
          portalUrl: portal.url,
          cluster: a.db,
        });
        try {
          const burst = await Promise.all(
            Array.from({ length: 6 }, () => automation.sessions.start("admin", "test-hang", {})),
          );
          // placed at creation: each runs here as soon as start() answers, before any claim of the queue
          for (const view of burst) assert.ok(automation.sessions.runsHere(view.id), `${view.id} runs here`);
          assert.equal(automation.sessions.load().running, 6);
          const seventh = await automation.sessions.start("admin", "test-hang", {});
          assert.equal(seventh.status, "queued");
          assert.equal(seventh.queue_position, 1);
          await assert.rejects(
            () => automation.sessions.start("admin", "test-hang", {}),
            /browser pool is full \(6 of 6 running, 1 of 1 queued\)/,
          );
        } finally {
          await automation.close();
        }
      },
    );
  });
});
