import assert from "node:assert/strict";
import {
  assertNoOverflow,
  consoleRig,
  DESKTOP,
  PHONE,
  shot,
  startFlow,
  waitStatus,
} from "./console_fixtures.ts";

// These callbacks run in the browser; Deno's type-check has no DOM (a lib="dom" reference would change
// WebSocket's types for every test checked with this one).
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;
declare const MutationObserver: Dom;

for (const [size, viewport] of [["phone", PHONE], ["desktop", DESKTOP]] as const) {
  Deno.test(`console (${size}): exam-booking's BankID QR changes in place with every frame, then the booking shows as a table`, async () => {
    await using rig = await consoleRig();
    const page = await rig.open(viewport);
    await page.type("#key", "admin-key");
    await page.click("#key-form button");
    await page.waitForSelector("#flow option[value=exam-booking]");
    await page.select("#flow", "exam-booking");
    // From input_schema: two required strings, an array of strings (one per line), an optional boolean.
    const controls = await page.$$eval(
      "#fields [name]",
      (els) =>
        els.map((e) =>
          `${e.getAttribute("name")}:${e.tagName.toLowerCase()}:${(e as Dom).type}:${(e as Dom).required}`
        ),
    );
    assert.deepEqual(controls, [
      "license_type:input:text:true",
      "exam_type:input:text:true",
      "locations:textarea:textarea:true",
      "choose:input:checkbox:false",
    ]);
    await assertNoOverflow(page, "the start form");
    const id = await startFlow(page, "exam-booking");

    // Every distinct frame the server sends is counted, and every distinct image the page's one <img> shows.
    const sent = new Set<string>();
    const stop = rig.automation.sessions.subscribe(id, 0, (ev) => {
      if (ev.type === "image") sent.add(String(ev.data.image));
    });
    try {
      await page.waitForSelector("#prompt-image");
      await page.evaluate(() => {
        const img = document.querySelector("#prompt-image")!;
        const shown = new Set([img.src]);
        (globalThis as unknown as { shown: Set<string> }).shown = shown;
        new MutationObserver(() => shown.add(img.src)).observe(img, {
          attributes: true,
          attributeFilter: ["src"],
        });
      });
      await shot(page, `qr-${size}`);
      await page.waitForFunction(() => (globalThis as unknown as { shown: Set<string> }).shown.size >= 4, {
        timeout: 30_000,
      });
      const snapshot = [...sent];
      assert.ok(snapshot.length >= 4, `the server sent ${snapshot.length} distinct frames`);
      // Each frame sent so far reaches the same image element (frames 2.. replace its src; none is missed).
      await page.waitForFunction(
        (frames: string[]) =>
          frames.every((f) => (globalThis as unknown as { shown: Set<string> }).shown.has(f)),
        { timeout: 10_000 },
        snapshot.slice(1),
      );
      assert.equal(await page.$$eval("#prompt img", (imgs) => imgs.length), 1);
    } finally {
      stop();
    }
    await assertNoOverflow(page, "the QR prompt");
    await page.click("#prompt button"); // "Approve in the demo portal" (a demo-only aid)
    await waitStatus(page, "succeeded");
    await page.waitForSelector("#outcome table");
    assert.match(await page.$eval("#outcome", (e) => e.textContent ?? ""), /Stockholm|Uppsala/);
    assert.equal(await page.$eval("#progress-text", (e) => e.textContent), "100%");
    await assertNoOverflow(page, "the booking result");
    await shot(page, `booking-${size}`);
  });
}
