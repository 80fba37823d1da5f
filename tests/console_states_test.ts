import assert from "node:assert/strict";
import {
  assertNoOverflow,
  consoleRig,
  DESKTOP,
  PHONE,
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

Deno.test("console: a wrong admin key stays on sign-in with a message saying it was refused", async () => {
  await using rig = await consoleRig();
  const page = await rig.open(PHONE);
  await page.type("#key", "not-the-key");
  await page.click("#key-form button");
  await page.waitForFunction(() =>
    /not accepted/.test(document.querySelector("#auth-error")?.textContent ?? "")
  );
  assert.equal(await page.$eval("#auth", (e) => (e as Dom).hidden), false);
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
  await assertNoOverflow(page, "sign-in");
  await shot(page, "signin-refused-phone");
});

Deno.test("console: a refused login ends api-access with an error naming the step, after a captcha prompt with a password field", async () => {
  await using rig = await consoleRig();
  const page = await rig.open(DESKTOP);
  await signInWithKey(page);
  await page.waitForSelector("#flow option[value=api-access]");
  await page.select("#flow", "api-access");
  assert.equal(await page.$eval("#fields [name=password]", (e) => (e as Dom).type), "password");
  await startFlow(page, "api-access", { username: "demo", password: "wrong-password" });
  await page.waitForSelector("#answer input[name=captcha]");
  await page.waitForFunction(() => (document.querySelector("#prompt-image") as Dom)?.naturalWidth > 0);
  const debug = await (await fetch(`${rig.base}/demo/_debug`)).json();
  await page.type("#answer input[name=captcha]", debug.captchas.at(-1).answer);
  await page.keyboard.press("Enter");
  await waitStatus(page, "failed");
  await page.waitForSelector("#outcome .failure");
  const failure = await page.$eval("#outcome .failure", (e) => e.textContent ?? "");
  assert.match(failure, /Failed at step “Login”: Cannot log in to the tax portal/);
  assert.doesNotMatch(failure, /"/);
  assert.equal(await page.$eval("#cancel", (e) => (e as Dom).hidden), true);
  await shot(page, "failed-desktop");
});

Deno.test("console: survives a dropped socket (re-attaches after the last event, says so, shows no event twice), then cancels", async () => {
  await using rig = await consoleRig();
  const page = await rig.open(PHONE);
  await signInWithKey(page);
  const id = await startFlow(page, "vehicle-lookup", { plate: "ABC123" });
  await page.waitForSelector("#answer input[name=value]");
  await page.waitForFunction(() => document.body.dataset.connection === "live");
  await page.evaluate(() =>
    (globalThis as unknown as { gatehouseConsole: { drop(): void } }).gatehouseConsole.drop()
  );
  await page.waitForFunction(() => document.body.dataset.connection === "reattached");
  assert.match(await page.$eval("#connection", (e) => e.textContent ?? ""), /re-attached after event \d+/);
  await page.click("#cancel");
  await waitStatus(page, "cancelled");
  await page.waitForSelector("#outcome .failure");
  assert.match(
    await page.$eval("#outcome", (e) => e.textContent ?? ""),
    /Cancelled: the session was cancelled/,
  );
  assert.equal(await page.$eval("#cancel", (e) => (e as Dom).hidden), true);
  const seqs = await page.$$eval(
    "#log li",
    (lis) => lis.map((li) => Number((li as Dom).dataset.seq)),
  );
  assert.deepEqual(seqs, (await rig.automation.sessions.events(id)).map((e) => e.seq));
  await assertNoOverflow(page, "a cancelled session");
  await shot(page, "cancelled-phone");
  // The sessions list shows it, and the session page is reachable by its URL.
  await page.click("a[href='#/']");
  await page.waitForSelector(`#sessions tr[data-id="${id}"]`);
  assert.match(await page.$eval(`#sessions tr[data-id="${id}"]`, (e) => e.textContent ?? ""), /cancelled/);
  await page.goto(`${rig.base}/#/s/${id}`);
  await waitStatus(page, "cancelled");
});
