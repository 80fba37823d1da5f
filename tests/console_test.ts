import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { builtinFlows } from "../src/automation/flows/mod.ts";
import { type Automation, createAutomation } from "../src/automation/mod.ts";
import { BrowserPool, CHROME_FLAGS, findChrome } from "../src/automation/pool.ts";
import { DEMO_LOGIN } from "../src/demo/mod.ts";
import { createLogger } from "../src/log.ts";
import { testApp } from "./helpers.ts";

Deno.test({
  name: "the web console logs a person in by phone code, runs vehicle-lookup and takes the 2FA answer",
  // Real clock: the portal's codes and the browser run on wall time.
  async fn() {
    const pool = new BrowserPool({ log: createLogger("silent") });
    let automation!: Automation;
    let fetcher: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => fetcher(req));
    const base = `http://127.0.0.1:${server.addr.port}`;
    const t = await testApp({
      deps: (deps) => {
        automation = createAutomation({ ...deps, clock: { now: () => new Date() } }, {
          flows: builtinFlows,
          pool,
          portalUrl: `${base}/demo`,
          secrets: { "vehicle-lookup": { ...DEMO_LOGIN } }, // as main.ts gives flows pointed at the demo
        });
        return { automation, clock: { now: () => new Date() } };
      },
    });
    fetcher = t.app.fetch;
    const viewer = await puppeteer.launch({
      executablePath: await findChrome(), // the Chromium the pool would launch
      args: CHROME_FLAGS,
    });
    try {
      const page = await viewer.newPage();
      await page.goto(`${base}/`);
      await page.type("#phone-form input[name=phone]", "+36201234567");
      await page.click("#phone-form button");
      await page.waitForSelector("#code-form:not([hidden])");
      await page.type("#code-form input[name=code]", t.sms.lastCode("+36201234567"));
      await page.click("#code-form button");
      await page.waitForFunction(`document.querySelector("#who")?.textContent === "+36201234567"`);
      await page.waitForSelector("#flow option[value=vehicle-lookup]");
      await page.select("#flow", "vehicle-lookup");
      await page.$eval("#input", (e) => (e as unknown as { value: string }).value = '{"plate":"ABC123"}');
      await page.click("#start-form button");
      // The 2FA prompt appears; the person reads the code off "their phone" (the demo's debug view).
      await page.waitForSelector("#answer input[name=value]", { timeout: 30_000 });
      const debug = await (await fetch(`${base}/demo/_debug`)).json();
      await page.type("#answer input[name=value]", debug.sms.at(-1).code);
      await page.click("#answer button");
      await page.waitForFunction(`document.querySelector("#status")?.textContent === "succeeded"`, {
        timeout: 60_000,
      });
      const outcome = await page.$eval("#outcome", (e) => e.textContent ?? "");
      assert.match(outcome, /BENTLEY/);
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.match(log, /progress/);
    } finally {
      await viewer.close();
      await automation.close();
      await pool.close();
      await t.db.close();
      await server.shutdown();
    }
  },
});
