/**
 * The browser's life is tied to the server's (issue 15, item 6): a server killed with SIGKILL leaves no
 * Chromium behind (CDP over a pipe), and profile folders a killed server left are removed at the next start.
 */
import assert from "node:assert/strict";
import { BrowserPool } from "../src/automation/pool.ts";
import { removeStaleProfiles } from "../src/automation/profiles.ts";
import { createLogger } from "../src/log.ts";

const alive = (pid: number) => Deno.stat(`/proc/${pid}`).then(() => true, () => false);

Deno.test("a server killed with SIGKILL leaves no Chromium running", async () => {
  const script = `
    import { BrowserPool } from "${new URL("../src/automation/pool.ts", import.meta.url).href}";
    import { createLogger } from "${new URL("../src/log.ts", import.meta.url).href}";
    const pool = new BrowserPool({ log: createLogger("silent") });
    await pool.warm();
    console.log(pool.browser.process().pid);
    await new Promise(() => {});`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const chromePid = Number(out.trim());
  assert.ok(chromePid > 0 && (await alive(chromePid)), `Chromium runs (pid ${out.trim()})`);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  // The pipe closed with the server: Chromium notices and exits (checked until it has, up to a minute).
  for (let i = 0; i < 600 && (await alive(chromePid)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await alive(chromePid), false, "Chromium outlived the killed server");
});

Deno.test("profile folders whose browser is gone are removed; a live browser's profile stays", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const stale = `${tmp}/gatehouse-chrome-stale`;
    const live = `${tmp}/gatehouse-chrome-live`;
    const other = `${tmp}/not-ours`;
    for (const d of [stale, live, other]) await Deno.mkdir(d);
    await Deno.symlink("somehost-999999999", `${stale}/SingletonLock`);
    await Deno.symlink(`somehost-${Deno.pid}`, `${live}/SingletonLock`);
    assert.equal(await removeStaleProfiles(createLogger("silent"), tmp), 1);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(tmp))).map((e) => e.name).sort(),
      ["gatehouse-chrome-live", "not-ours"],
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a pool still launches, runs and closes its browser over the pipe", async () => {
  const pool = new BrowserPool({ log: createLogger("silent") });
  try {
    const lease = await pool.newContext("s1");
    const page = await lease.context.newPage();
    await page.setContent("<p>ok</p>");
    assert.equal(await page.$eval("p", (e) => e.textContent), "ok");
    await pool.closeContext(lease);
  } finally {
    await pool.close();
  }
  assert.equal(pool.browser, undefined);
});
