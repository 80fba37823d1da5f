import assert from "node:assert/strict";
import { MAX_FPS } from "../src/automation/live_view.ts";
import {
  consoleRig,
  demoSmsCode,
  DESKTOP,
  shot,
  signInWithKey,
  startFlow,
  waitStatus,
} from "./console_fixtures.ts";

// These callbacks run in the browser; Deno's type-check has no DOM (a lib="dom" reference would change
// WebSocket's types for every test checked with this one).
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;
declare const innerWidth: number, innerHeight: number;

const framesTotal = () => Number(document.body.dataset.framesTotal || 0);

Deno.test("console live view: frames only while watched, take-over types into the automated page, then hands back", async () => {
  await using rig = await consoleRig();
  const { liveView, sessions } = rig.automation;
  const page = await rig.open(DESKTOP);
  await signInWithKey(page);
  const id = await startFlow(page, "vehicle-lookup", { plate: "ABC123" });
  await page.waitForSelector("#answer input[name=value]"); // the flow waits on the portal's code page
  await page.waitForFunction(() => document.body.dataset.connection === "live");
  assert.equal(liveView.streaming(id), false, "no screencast before anyone watches");
  assert.equal(liveView.framesSent(id), 0);

  await page.click("#live-toggle");
  await page.waitForFunction(() => Number(document.body.dataset.frames || 0) >= 1);
  assert.equal(liveView.streaming(id), true);
  await page.waitForFunction(() => (document.querySelector("#live-frame") as Dom).naturalWidth > 0);

  // Take over: click the portal's code field on the picture, type with the keyboard.
  await page.click("#control");
  await page.waitForSelector("#live-frame.control");
  const tab = sessions.page(id)!;
  const box = await tab.$eval("input[name=code]", (e) => {
    const r = e.getBoundingClientRect();
    return { x: r.x + r.width / 2, y: r.y + r.height / 2, w: innerWidth, h: innerHeight };
  });
  const frame = (await page.$("#live-frame"))!;
  await frame.scrollIntoView();
  const shown = (await frame.boundingBox())!;
  await page.mouse.click(shown.x + (box.x / box.w) * shown.width, shown.y + (box.y / box.h) * shown.height);
  await page.keyboard.type("42");
  await tab.waitForFunction(
    () => (document.querySelector("input[name=code]") as Dom).value === "42",
    { polling: 100 },
  );
  await page.keyboard.press("Backspace");
  await tab.waitForFunction(
    () => (document.querySelector("input[name=code]") as Dom).value === "4",
    { polling: 100 },
  );
  const before = await page.evaluate(() => Number(document.body.dataset.frames));
  await page.waitForFunction((n) => Number(document.body.dataset.frames) > n, {}, before); // the typing, repainted
  await shot(page, "live-desktop");

  // Hand back and stop watching: the screencast stops, and no frame comes after.
  await page.click("#control");
  await page.waitForSelector("#live-frame:not(.control)");
  await page.click("#live-toggle");
  await page.waitForSelector("#live[hidden]");
  while (liveView.streaming(id)) await new Promise((r) => setTimeout(r, 50));
  const sent = liveView.framesSent(id);
  await page.$eval("#answer input[name=value]", (e) => ((e as Dom).value = ""));
  await page.type("#answer input[name=value]", await demoSmsCode(rig.base));
  await page.keyboard.press("Enter");
  await waitStatus(page, "succeeded"); // every frame sent before the end has arrived by now (one socket, in order)
  assert.equal(
    await page.evaluate(framesTotal),
    sent,
    "the page got exactly the frames sent while it watched",
  );
  assert.ok(sent >= 1);
  assert.ok(MAX_FPS <= 5);
});
