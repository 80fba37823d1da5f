/**
 * The flows' page helpers (support.ts on page_wait.ts, issue 16): they wait with one small in-page function
 * instead of puppeteer's selector waits, so these specs pin what the flows rely on, in real Chromium.
 */
import assert from "node:assert/strict";
import { clickAndNavigate, fill, firstOf } from "../src/automation/flows/support.ts";
import { FlowError } from "../src/automation/flow.ts";
import { launchBrowser } from "./flow_harness.ts";

declare const document: { querySelector(s: string): unknown };

const pages: Record<string, string> = {
  "/form": `<!doctype html><form id="f" method="post" action="/done">
    <input name="name" value="old"><select name="kind"><option value="a">A</option><option value="b">B</option></select>
    <button type="submit" id="go">Go</button></form>
    <script>window.seen = []; for (const el of document.querySelectorAll("input,select"))
      for (const t of ["input", "change"]) el.addEventListener(t, () => seen.push(t + ":" + el.name));</script>`,
  "/late": `<!doctype html><p>wait</p><script>setTimeout(() => {
    const b = document.createElement("button"); b.id = "late"; document.body.append(b); }, 300)</script>`,
  "/hidden": `<!doctype html><button id="h" style="visibility:hidden">x</button>
    <script>setTimeout(() => document.getElementById("h").style.visibility = "visible", 300)</script>`,
  "/hop": `<!doctype html><p>hop</p><script>setTimeout(() => location.href = "/landed", 200)</script>`,
  "/landed": `<!doctype html><p id="landed">here</p>`,
};

Deno.test("page helpers: fill, click and wait, across navigations, bounded and cancellable", async (t) => {
  let posted = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "POST") posted = await req.text();
    const html = path === "/done" ? `<!doctype html><p id="done">ok</p>` : pages[path] ?? "not found";
    return new Response(html, { headers: { "content-type": "text/html" } });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const wait = (step: string, timeoutMs?: number) => ({
    signal: new AbortController().signal,
    step,
    timeoutMs,
  });

  await t.step("fill replaces a field's text as typing does, and chooses a select's option", async () => {
    await page.goto(`${base}/form`);
    await fill(page, "#f [name=name]", "Ann Lee", wait("form"));
    await fill(page, "#f [name=kind]", "b", wait("form"));
    assert.deepEqual(
      await page.evaluate(() => {
        const f = document.querySelector("#f") as unknown as {
          name: { value: string };
          kind: { value: string };
        };
        return [f.name.value, f.kind.value];
      }),
      ["Ann Lee", "b"],
    );
    const seen = await page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
    assert.ok(seen.includes("input:name"), `input events from typing: ${seen}`);
    assert.ok(seen.includes("change:kind"), `a change event on the select: ${seen}`);
    await assert.rejects(() => fill(page, "#f [name=kind]", "zz", wait("form")), /No option zz/);
  });

  await t.step(
    "clickAndNavigate submits the form with what was filled and waits for the next page",
    async () => {
      await clickAndNavigate(page, "#go", wait("submit"));
      assert.equal(new URL(page.url()).pathname, "/done");
      assert.equal(posted, "name=Ann+Lee&kind=b");
    },
  );

  await t.step(
    "firstOf waits for an element that appears later, and for one that becomes visible",
    async () => {
      await page.goto(`${base}/late`);
      assert.equal(await firstOf(page, { never: "#never", late: "#late" }, wait("late")), "late");
      await page.goto(`${base}/hidden`);
      const t0 = performance.now();
      await clickAndNavigate(page, "#h", wait("hidden", 1500)).catch(() => {}); // no navigation follows
      assert.ok(performance.now() - t0 >= 250, "the click waited for the button to become visible");
    },
  );

  await t.step("firstOf survives a navigation: the wait reruns in the next document", async () => {
    await page.goto(`${base}/hop`);
    assert.equal(await firstOf(page, { landed: "#landed" }, wait("hop")), "landed");
  });

  await t.step("a wait that runs out is a FlowError naming the step and what was awaited", async () => {
    await page.goto(`${base}/landed`);
    const err = await firstOf(page, { a: "#a", b: "#b" }, wait("search", 300)).catch((e) => e);
    assert.ok(err instanceof FlowError, String(err));
    assert.equal(err.step, "search");
    assert.match(err.message, /did not show any of #a, #b in time/);
  });

  await t.step("an abort ends the wait at once with the signal's reason", async () => {
    const abort = new AbortController();
    const t0 = performance.now();
    setTimeout(() => abort.abort(new Error("cancelled by the user")), 100);
    await assert.rejects(
      () => firstOf(page, { a: "#a" }, { signal: abort.signal, step: "x", timeoutMs: 10_000 }),
      /cancelled by the user/,
    );
    assert.ok(performance.now() - t0 < 5_000);
  });

  await server.shutdown();
});
