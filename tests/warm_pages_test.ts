/** Warm pages (issue 16): a few contexts with a blank page wait for the next sessions, never more than asked. */
import assert from "node:assert/strict";
import { BrowserPool } from "../src/automation/pool.ts";
import { createLogger } from "../src/log.ts";
import { waitFor } from "./automation_fixtures.ts";

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("warm pages: kept ready once the browser runs, lent to sessions, refilled, never more", async (t) => {
  await using pool = new BrowserPool({ log: createLogger("silent"), warmPages: 2 });
  const contexts = () => pool.browser!.browserContexts().length - 1; // without the default context

  await t.step("warm() launches the browser and fills the stock to its size", async () => {
    await pool.warm();
    await waitFor(() => pool.warmPages === 2, "two warm pages");
    assert.equal(contexts(), 2);
    assert.equal(pool.openContexts, 0, "warm pages are not lent out");
  });

  await t.step(
    "a session takes a warm blank page at once; the stock is topped up once it has started",
    async () => {
      const { lease, page } = await pool.openPage("s1");
      assert.equal(page.url(), "about:blank");
      assert.equal(pool.openContexts, 1);
      assert.equal(pool.warmPages, 1);
      await settle(600);
      assert.equal(pool.warmPages, 1, "no page is made while a session is on its way to its first prompt");
      pool.settled(lease);
      await waitFor(() => pool.warmPages === 2, "the refill");
      await settle(600);
      assert.equal(pool.warmPages, 2, "never more than its size");
      assert.equal(contexts(), 3);
      await pool.closeContext(lease);
      assert.equal(contexts(), 2);
    },
  );

  await t.step("a sweep of leftovers leaves the warm pages alone", async () => {
    assert.equal(await pool.sweep(undefined, () => false), 0);
    assert.equal(pool.warmPages, 2);
  });

  await t.step(
    "a crashed browser takes its warm pages along; the next session gets a fresh page",
    async () => {
      const pid = pool.browser!.process()!.pid!;
      Deno.kill(pid, "SIGKILL");
      await waitFor(() => !pool.browser, "the pool to notice the crash");
      assert.equal(pool.warmPages, 0);
      const { lease, page } = await pool.openPage("s2");
      assert.equal(await page.evaluate(() => 1 + 1), 2);
      await pool.closeContext(lease);
      await waitFor(() => pool.warmPages === 2, "the refill in the new browser");
    },
  );
});

Deno.test("warm pages: none by default, and closing the pool closes them with the browser", async () => {
  const plain = new BrowserPool({ log: createLogger("silent") });
  try {
    const { lease } = await plain.openPage("s1");
    await plain.closeContext(lease);
    await settle(500);
    assert.equal(plain.warmPages, 0);
    assert.equal(plain.browser!.browserContexts().length, 1);
  } finally {
    await plain.close();
  }
  const warm = new BrowserPool({ log: createLogger("silent"), warmPages: 1 });
  await warm.warm();
  await waitFor(() => warm.warmPages === 1, "one warm page");
  const pid = warm.browser!.process()!.pid!;
  await warm.close();
  assert.equal(warm.warmPages, 0);
  assert.equal(await Deno.stat(`/proc/${pid}`).then(() => true, () => false), false, "the browser is gone");
});
