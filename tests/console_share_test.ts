import assert from "node:assert/strict";
import {
  consoleRig,
  demoSmsCode,
  DESKTOP,
  PHONE,
  shot,
  signInWithKey,
  startFlow,
  waitStatus,
} from "./console_fixtures.ts";
import { testApp } from "./helpers.ts";

// These callbacks run in the browser; Deno's type-check has no DOM.
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;

Deno.test("console share link: a second browser with no credentials follows the session, watches it live and answers its prompt; the link works once", async () => {
  await using rig = await consoleRig();
  const owner = await rig.open(DESKTOP);
  await signInWithKey(owner);
  const id = await startFlow(owner, "vehicle-lookup", { plate: "ABC123" });
  await owner.waitForSelector("#answer input[name=value]");
  await owner.click("#share");
  await owner.waitForSelector("#share-out:not([hidden])");
  const url = await owner.$eval("#share-url", (a: Dom) => a.href as string);
  assert.match(url, /#\/share\/[\w-]{20,}$/);

  // A separate browser context: no cookies, no sessionStorage, no token.
  const context = await rig.viewer.createBrowserContext();
  const guest = await context.newPage();
  await guest.setViewport(PHONE);
  guest.setDefaultTimeout(30_000);
  await guest.goto(url);
  await guest.waitForSelector("#session:not([hidden])");
  assert.equal(await guest.evaluate(() => location.hash), `#/g/${id}`, "the link leaves the address bar");
  assert.equal(await guest.evaluate(() => sessionStorage.length), 0, "no credentials are kept");
  await guest.waitForSelector("#answer input[name=value]");
  assert.equal(await guest.$eval("#cancel", (e: Dom) => e.hidden), true, "a guest cannot cancel");
  assert.equal(await guest.$eval("#control-label", (e: Dom) => e.hidden), true, "nor take control");

  await guest.click("#live-toggle");
  await guest.waitForFunction(() => Number(document.body.dataset.frames || 0) >= 1);
  await shot(guest, "share-phone");

  await guest.type("#answer input[name=value]", await demoSmsCode(rig.base));
  await guest.keyboard.press("Enter");
  await waitStatus(guest, "succeeded");
  await guest.waitForSelector("#outcome table");
  await guest.waitForFunction(() =>
    [...document.querySelectorAll("#outcome img")].some((i: Dom) => i.naturalWidth > 0)
  );
  await waitStatus(owner, "succeeded");

  // The link is burnt: a third browser gets the refusal.
  const again = await (await rig.viewer.createBrowserContext()).newPage();
  await again.goto(url);
  await again.waitForFunction(() => /already used or has expired/.test(document.body.textContent));
  await context.close();
});

Deno.test("POST /api/v1/shares/redeem answers 410 for an unknown link; /api/v1/shared/:id needs a guest token", async () => {
  await using t = await testApp();
  const res = await t.json("POST", "/api/v1/shares/redeem", { token: "x".repeat(43) });
  assert.equal(res.status, 410);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal((await res.json()).detail, "This share link was already used or has expired");
  const other = await t.app.request(`/api/v1/shared/${crypto.randomUUID()}`, {
    headers: { authorization: "Bearer not-a-guest-token" },
  });
  assert.equal(other.status, 401);
  await other.body?.cancel();
});
