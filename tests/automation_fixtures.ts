/** Test flows, a local portal for them to drive, and helpers for the automation tests (not the real flows). */
import assert from "node:assert/strict";
import { z } from "zod";
import { type Automation, createAutomation } from "../src/automation/mod.ts";
import { sessionOutbox } from "../src/webhooks/mod.ts";
import { defineFlow, type Flow, FlowError } from "../src/automation/flow.ts";
import { BrowserPool } from "../src/automation/pool.ts";
import { createLogger } from "../src/log.ts";
import { type TestApp, testApp } from "./helpers.ts";

/** A 1×1 PNG whose single grey pixel is `shade`; different shades are different frames. */
export function tinyPng(shade = 0): Uint8Array {
  // Pre-built PNG with a patched pixel would need a CRC; build it properly instead.
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const chunk = (type: string, data: number[]) => {
    const td = new Uint8Array([...new TextEncoder().encode(type), ...data]);
    return [...u32(data.length), ...td, ...u32(crc(td))];
  };
  // zlib stored block of the one scanline [filter 0, shade]
  const raw = [0, shade & 255];
  let a = 1, b = 0;
  for (const x of raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  const zlib = [0x78, 0x01, 1, raw.length, 0, ~raw.length & 255, 0xff, ...raw, ...u32((b << 16) | a)];
  return new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...chunk("IHDR", [...u32(1), ...u32(1), 8, 0, 0, 0, 0]),
    ...chunk("IDAT", zlib),
    ...chunk("IEND", []),
  ]);
}

const LOGIN_PAGE = `<!doctype html><title>Test portal</title>
<form id="f"><input id="code" autocomplete="off"><button id="go" type="submit">Go</button></form>
<p id="out"></p>
<script>
document.getElementById("f").addEventListener("submit", (e) => {
  e.preventDefault();
  const v = document.getElementById("code").value;
  document.getElementById("out").textContent = "Welcome, code of " + v.length + " digits";
});
</script>`;

/** A local stand-in portal: `/login` is a form the flows fill in. */
export function startPortal(): Deno.HttpServer<Deno.NetAddr> & { url: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/login") return new Response(LOGIN_PAGE, { headers: { "content-type": "text/html" } });
    return new Response("not found", { status: 404 });
  });
  return Object.assign(server, { url: `http://127.0.0.1:${server.addr.port}` });
}

/** Opens the portal, asks a code, types it in, reads the page, saves an artifact, and asks a note. */
export const askCodeFlow = defineFlow({
  name: "test-ask-code",
  title: "Ask a code",
  description: "Opens the test portal, asks a code and types it in",
  input: z.object({ name: z.string().min(1), note: z.boolean().default(false) }),
  async run(ctx) {
    await ctx.page.goto(`${ctx.portalUrl}/login`);
    await ctx.progress(10, "page", await ctx.page.title());
    const code = await ctx.ask({ kind: "code", message: `Enter the code for ${ctx.input.name}` });
    await ctx.page.type("#code", code as string);
    await ctx.page.click("#go");
    const text = await ctx.page.$eval("#out", (e) => e.textContent ?? "");
    await ctx.progress(60, "greeting", text);
    await ctx.artifact("greeting.txt", new TextEncoder().encode(text), "text/plain; charset=utf-8");
    let note: unknown = null;
    if (ctx.input.note) note = await ctx.ask({ kind: "text", message: "Any note?", secret: false });
    await ctx.progress(100);
    return { greeting: text, note, secret_keys: Object.keys(ctx.secrets) };
  },
});

/** Shows a QR that changes every 50 ms until the human answers (or the flow closes it after `frames`). */
export const qrFlow = defineFlow({
  name: "test-qr",
  title: "QR login",
  description: "Streams a changing image",
  input: z.object({ frames: z.number().int().min(1).max(1000).default(1000) }),
  async run(ctx) {
    const handle = await ctx.prompt({ kind: "qr", message: "Scan the code", image: tinyPng(0) });
    let answered: unknown = null;
    handle.answer.then((a) => (answered = a), () => {});
    for (let i = 1; i <= ctx.input.frames && answered === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await ctx.showImage(handle.id, tinyPng(i));
    }
    await handle.close();
    return { scanned: answered !== null, answer: answered };
  },
});

/** Asks each prompt kind that takes structured answers. */
export const formsFlow = defineFlow({
  name: "test-forms",
  title: "Forms",
  description: "Asks credentials, then a choice",
  input: z.object({}),
  async run(ctx) {
    const creds = await ctx.ask({
      kind: "credentials",
      message: "Log in",
      fields: [{ name: "username", label: "User" }, {
        name: "password",
        label: "Password",
        type: "password",
      }],
    }) as Record<string, string>;
    const pick = await ctx.ask({
      kind: "choice",
      message: "Pick a slot",
      options: [{ value: "a", label: "Monday" }, { value: "b", label: "Tuesday" }],
    });
    return { user: creds.username, pick };
  },
});

/** Fails with a FlowError, or throws an unexpected error. */
export const failFlow = defineFlow({
  name: "test-fail",
  title: "Fails",
  description: "Fails on demand",
  input: z.object({ expected: z.boolean().default(true) }),
  async run(ctx) {
    await ctx.page.goto(`${ctx.portalUrl}/login`);
    if (ctx.input.expected) throw new FlowError("No vehicle found with plate ZZZ999", { step: "search" });
    throw new Error("boom");
  },
});

/** Waits until the session ends from outside (cancel, expiry, crash). */
export const hangFlow = defineFlow({
  name: "test-hang",
  title: "Hangs",
  description: "Opens the portal and waits forever",
  input: z.object({}),
  async run(ctx) {
    await ctx.page.goto(`${ctx.portalUrl}/login`);
    await ctx.progress(5, "opened", true);
    await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
  },
});

/** Touches its page and returns at once (for volume tests). */
export const quickFlow = defineFlow({
  name: "test-quick",
  title: "Quick",
  description: "Evaluates 1 + 1",
  input: z.object({ n: z.number().int() }),
  async run(ctx) {
    return { n: ctx.input.n, two: await ctx.page.evaluate(() => 1 + 1) };
  },
});

/** Every test flow. */
export const testFlows: Flow[] = [askCodeFlow, qrFlow, formsFlow, failFlow, hangFlow, quickFlow] as Flow[];

/** A pool on the machine's Chromium, quiet. */
export function testPool(): BrowserPool {
  return new BrowserPool({ log: createLogger("silent") });
}

/** A test app with automation on a shared pool; disposing closes the automation, then the database. */
export async function automationApp(
  pool: BrowserPool,
  portalUrl: string,
  config: Record<string, string> = {},
): Promise<TestApp & { automation: Automation }> {
  let automation!: Automation;
  const t = await testApp({
    config,
    deps: (base) => {
      automation = createAutomation(base, {
        flows: testFlows,
        pool,
        portalUrl,
        reapIntervalMs: 20,
        imagePersistMs: 200,
        outbox: sessionOutbox(base.config, () => {}), // webhooks: delivered by a worker a test starts
      });
      return { automation };
    },
  });
  return Object.assign(t, {
    automation,
    async [Symbol.asyncDispose]() {
      await automation.close();
      await t.db.close();
    },
  });
}

/** Polls `fn` every 20 ms until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<Exclude<T, false | null | undefined | "" | 0>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Exclude<T, false | null | undefined | "" | 0>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The admin API key header. */
export const ADMIN = { "x-api-key": "admin-key" };

/** What withSharedBrowser hands its body. */
export interface SharedBrowser {
  /** Runs one behaviour as a step; the step fails if it leaves a browser context open. */
  spec(name: string, fn: () => Promise<void>): Promise<boolean>;
  pool: BrowserPool;
  portal: ReturnType<typeof startPortal>;
}

/**
 * Runs `body`'s steps on one browser pool and test portal (launching Chromium per test would dominate CI
 * time). Each step is checked for leaks of its own, so a leak fails the step that leaked; at the end the
 * pool is closed and no temporary profile may be left. Step sanitizers are off because the shared
 * browser's socket and process span the steps.
 */
export async function withSharedBrowser(
  t: Deno.TestContext,
  body: (shared: SharedBrowser) => Promise<void>,
): Promise<BrowserPool> {
  const portal = startPortal();
  const pool = testPool();
  const spec = (name: string, fn: () => Promise<void>) =>
    t.step({
      name,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        await fn();
        assert.equal(pool.openContexts, 0, `the step left ${pool.openContexts} browser context(s) open`);
      },
    });
  try {
    await body({ spec, pool, portal });
  } finally {
    await pool.close();
    await portal.shutdown();
  }
  assert.equal(pool.browser, undefined);
  for (const dir of pool.profileDirs) {
    await assert.rejects(
      Deno.stat(dir),
      Deno.errors.NotFound,
      `the temporary profile ${dir} was left behind`,
    );
  }
  return pool;
}
