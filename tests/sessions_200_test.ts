/**
 * Many sessions in a row on one browser: every context is closed and the browser is left with its default
 * one. Its own file (and browser pool), because it is the longest automation test.
 */
import assert from "node:assert/strict";
import { automationApp, withSharedBrowser } from "./automation_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("200 automation sessions in a row, with real Chromium", async (t) => {
  await withSharedBrowser(t, async ({ spec, pool, portal }) => {
    await spec("after 200 sessions the browser holds no context but its default one", async () => {
      await using a = await automationApp(pool, portal.url, {
        MAX_SESSIONS: "8",
        MAX_QUEUE: "200",
        MAX_SESSIONS_PER_API_KEY: "0",
      });
      const ids: string[] = [];
      for (let n = 0; n < 200; n++) {
        ids.push((await a.automation.sessions.start("admin", "test-quick", { n })).id);
      }
      // Follow every session to its final event (no wall-clock bound: ~45 s idle, minutes on a busy machine).
      await Promise.all(ids.map(async (id) => {
        for await (const _event of a.automation.sessions.follow(id)) { /* until the final status */ }
      }));
      const rows = await a.automation.sessions.list({ limit: 200 });
      assert.equal(rows.filter((r) => r.status === "succeeded").length, 200);
      assert.deepEqual(rows.map((r) => (r.result as Json).n).sort((x, y) => x - y), ids.map((_, i) => i));
      assert.equal(pool.openContexts, 0);
      assert.equal(pool.browser!.browserContexts().length, 1);
    });
  });
});
