/** The console under test: the app on a real port with the demo portal, real Chromium for flows and for the person. */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { builtinFlows } from "../src/automation/flows/mod.ts";
import { type Automation, createAutomation } from "../src/automation/mod.ts";
import { BrowserPool } from "../src/automation/pool.ts";
import { CHROME_FLAGS, findChrome } from "../src/automation/chrome.ts";
import { DEMO_LOGIN } from "../src/demo/mod.ts";
import { createLogger } from "../src/log.ts";
import { type TestApp, testApp } from "./helpers.ts";

// These callbacks run in the browser; Deno's type-check has no DOM (a lib="dom" reference would change
// WebSocket's types for every test checked with this one).
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;

/** Desktop and phone viewports the console must work at. */
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };

/** A running console: `base` URL, the app, its automation, and a person's browser. */
export interface ConsoleRig extends AsyncDisposable {
  base: string;
  t: TestApp;
  automation: Automation;
  viewer: Browser;
  /** Opens the console in a fresh page at `viewport`. */
  open(viewport: typeof DESKTOP | typeof PHONE): Promise<Page>;
}

/** Starts the app (real clock: the portal and the browser run on wall time) and a viewer browser. */
export async function consoleRig(): Promise<ConsoleRig> {
  const pool = new BrowserPool({ log: createLogger("silent") });
  let automation!: Automation;
  let fetcher: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => fetcher(req));
  const base = `http://127.0.0.1:${server.addr.port}`;
  const t = await testApp({
    deps: (deps) => {
      const clock = { now: () => new Date() };
      automation = createAutomation({ ...deps, clock }, {
        flows: builtinFlows,
        pool,
        portalUrl: `${base}/demo`,
        secrets: { "vehicle-lookup": { ...DEMO_LOGIN } }, // as main.ts gives flows pointed at the demo
      });
      return { automation, clock };
    },
  });
  fetcher = t.app.fetch;
  const viewer = await puppeteer.launch({ executablePath: await findChrome(), args: CHROME_FLAGS });
  const close = async () => {
    await viewer.close();
    // The server drains before the database closes: a request still in flight (a long-poll the closed viewer
    // left, waking on the cancel) would otherwise wait forever on a closed PGlite, and shutdown() with it.
    await server.shutdown();
    await automation.close();
    await pool.close();
    await t.db.close();
  };
  return {
    base,
    t,
    automation,
    viewer,
    async open(viewport) {
      const page = await viewer.newPage();
      await page.setViewport(viewport);
      page.setDefaultTimeout(30_000);
      await page.goto(`${base}/`);
      return page;
    },
    [Symbol.asyncDispose]: close,
  };
}

/** Signs in with the admin API key. */
export async function signInWithKey(page: Page, key = "admin-key"): Promise<void> {
  await page.type("#key", key);
  await page.click("#key-form button");
  await page.waitForSelector("#home:not([hidden])");
}

/** Picks `flow` in the start form, fills the generated fields, starts it and waits for its session page. */
export async function startFlow(
  page: Page,
  flow: string,
  fields: Record<string, string> = {},
): Promise<string> {
  await page.waitForSelector(`#flow option[value="${flow}"]`);
  await page.select("#flow", flow);
  for (const [name, value] of Object.entries(fields)) {
    await page.$eval(`#fields [name="${name}"]`, (e) => ((e as unknown as { value: string }).value = ""));
    await page.type(`#fields [name="${name}"]`, value);
  }
  await page.click("#start-button");
  await page.waitForFunction(() => /^#\/s\//.test(location.hash));
  await page.waitForSelector("#session:not([hidden])");
  return page.evaluate(() => location.hash.slice(4));
}

/** Waits until the session badge says `status`. */
export async function waitStatus(page: Page, status: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    (s) => document.querySelector("#status")?.textContent === s,
    { timeout },
    status,
  );
}

/** Asserts nothing is wider than the viewport (no sideways scrolling). */
export async function assertNoOverflow(page: Page, what: string): Promise<void> {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${what}: the page is ${scroll} px wide in a ${client} px viewport`);
}

/** Saves a screenshot under docs/console/ (committed, shown in the README). */
export async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir("docs/console", { recursive: true });
  await page.screenshot({ path: `docs/console/${name}.png` as `${string}.png`, fullPage: true });
}

/** The latest code the demo portal "sent" by SMS (its /demo/_debug view). */
export async function demoSmsCode(base: string): Promise<string> {
  const debug = await (await fetch(`${base}/demo/_debug`)).json();
  return debug.sms.at(-1).code;
}
