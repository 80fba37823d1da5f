/**
 * What Chromium itself spends per session, step by step: `deno run -A bench/chromium_cost.ts`.
 *
 * puppeteer alone (no gatehouse), the browser gatehouse launches (findChrome, same flags), 50 isolated contexts
 * at once doing, in separate runs: a context only; + a new page; + one navigation to a blank page; + one to a
 * login page like the demo's; + a second navigation. Chromium CPU per context (utime+stime of every Chromium
 * process, /proc) for each, so the cost of a page and of a navigation can be read off as differences; this is
 * the profile behind the burst figures of bench/burst.ts. Writes bench/results/chromium_cost.json.
 */
import { findChrome } from "../src/automation/chrome.ts";
import { launchLikePool } from "./lib/browser.ts";
import { treeCpu } from "./lib/server_tree.ts";

const N = 50;
const login = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto}label{display:block}</style></head>
<body><h1>Registry</h1><form id="login" method="post"><label>Username <input name="username"></label>
<label>Password <input name="password" type="password"></label><button type="submit">Log in</button></form></body></html>`;
const blank = `<!doctype html><html><head><title>x</title></head><body></body></html>`;
const portal = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (req) =>
    new Response(new URL(req.url).pathname === "/blank" ? blank : login, {
      headers: { "content-type": "text/html" },
    }),
);
const base = `http://127.0.0.1:${portal.addr.port}`;
const chrome = await findChrome(Deno.env.get("CHROME_PATH"));
const browser = await launchLikePool(chrome);

const steps = ["context", "page", "blank", "login", "login twice"] as const;
async function one(step: typeof steps[number]) {
  const context = await browser.createBrowserContext();
  if (step === "context") return context;
  const page = await context.newPage();
  if (step === "page") return context;
  await page.goto(`${base}/${step === "blank" ? "blank" : "login"}`);
  if (step === "login twice") await page.goto(`${base}/login?again`);
  return context;
}

const rows: Record<string, unknown>[] = [];
for (const step of steps) {
  await (await one(step)).close(); // warm-up
  await new Promise((r) => setTimeout(r, 500));
  const before = treeCpu(browser.process()!.pid!);
  const t0 = performance.now();
  const contexts = await Promise.all(Array.from({ length: N }, () => one(step)));
  const wallMs = Math.round(performance.now() - t0);
  const after = treeCpu(browser.process()!.pid!);
  await Promise.all(contexts.map((c) => c.close()));
  const cpu = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k === "server" ? "browser" : k, v - (before[k] ?? 0)]),
  );
  const perContext = Math.round(Object.values(cpu).reduce((a, b) => a + b, 0) / N);
  console.log(`${N} × ${step}: ${wallMs} ms wall, Chromium ${perContext} ms CPU each ${JSON.stringify(cpu)}`);
  rows.push({ step, wall_ms: wallMs, chromium_cpu_ms_per_context: perContext, cpu_ms: cpu });
}
await browser.close();
await portal.shutdown();
await Deno.writeTextFile(
  new URL("results/chromium_cost.json", import.meta.url),
  JSON.stringify(
    {
      command: "npx -y deno@2 run -A bench/chromium_cost.ts",
      date: new Date().toISOString(),
      machine: { cores: navigator.hardwareConcurrency, chromium: chrome, load: Deno.loadavg() },
      contexts: N,
      steps: rows,
    },
    null,
    2,
  ) + "\n",
);
