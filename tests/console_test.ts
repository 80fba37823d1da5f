import assert from "node:assert/strict";
import {
  assertNoOverflow,
  consoleRig,
  demoSmsCode,
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

for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
  Deno.test(`console (${size}): phone sign-in, vehicle-lookup from its schema form, focused 2FA prompt, result table and photos`, async () => {
    await using rig = await consoleRig();
    const page = await rig.open(viewport);
    await page.type("#phone", "+36201234567");
    await page.click("#phone-form button");
    await page.waitForSelector("#code-form:not([hidden])");
    await page.type("#code", rig.t.sms.lastCode("+36201234567"));
    await page.click("#code-form button");
    await page.waitForFunction(() => document.querySelector("#who")?.textContent === "+36201234567");

    // The form comes from input_schema: vehicle-lookup has one required text field, `plate`.
    await page.waitForSelector("#flow option[value=vehicle-lookup]");
    await page.select("#flow", "vehicle-lookup");
    const fields = await page.$$eval(
      "#fields input, #fields select, #fields textarea",
      (els) =>
        els.map((e) => {
          const input = e as unknown as {
            name: string;
            required: boolean;
            id: string;
            labels: { length: number };
          };
          return { name: input.name, required: input.required, labelled: input.labels.length > 0 };
        }),
    );
    assert.deepEqual(fields, [{ name: "plate", required: true, labelled: true }]);
    await shot(page, `start-${size}`);
    await startFlow(page, "vehicle-lookup", { plate: "ABC123" });

    // The 2FA prompt is focused (so it is in view), with the demo hint naming where the code is.
    await page.waitForSelector("#answer input[name=value]");
    await page.waitForFunction(() => document.activeElement?.getAttribute("name") === "value");
    assert.match(await page.$eval("#prompt", (e) => e.textContent ?? ""), /\/demo\/_debug/);
    await shot(page, `prompt-${size}`);
    await page.keyboard.type(await demoSmsCode(rig.base));
    await page.keyboard.press("Enter");

    await waitStatus(page, "succeeded");
    await page.waitForSelector("#outcome table");
    assert.equal(await page.$eval("#progress", (e) => (e as unknown as { value: number }).value), 100);
    const result = await page.$eval("#outcome", (e) => e.textContent ?? "");
    assert.match(result, /BENTLEY/);
    assert.doesNotMatch(result, /[{}"]/, "no raw JSON in the result");
    // The photos: inspection images shown inline from the artifacts API, loaded.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#outcome img, #artifacts img")].some((i) =>
        i.complete && i.naturalWidth > 0
      )
    );
    const photos = await page.$$eval("#outcome img", (imgs) => imgs.map((i) => i.getAttribute("alt")));
    assert.ok(photos.length >= 1 && photos.every((a) => /^photo-\d+\.\w+$/.test(a ?? "")), String(photos));
    // Every stored event is in the log exactly once.
    const seqs = await page.$$eval("#log li", (lis) => lis.map((li) => Number(li.dataset.seq)));
    const stored = await rig.automation.sessions.events(
      await page.evaluate(() => location.hash.slice(4)),
    );
    assert.deepEqual(seqs, stored.map((e) => e.seq));
    await assertNoOverflow(page, "the result");
    await shot(page, `result-${size}`);
  });
}
