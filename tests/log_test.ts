import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";

Deno.test("createLogger writes one JSON object per line at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l));
  log.debug("hidden");
  log.info("shown", { n: 1 });
  log.error("failed", { error: new Error("boom") });
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.equal(a.msg, "shown");
  assert.equal(a.level, "info");
  assert.equal(a.n, 1);
  assert.deepEqual(b.error, { name: "Error", message: "boom" });
});

Deno.test("BufferedStdout writes queued lines in one batch, in order, on flush", async () => {
  // Runs the buffer in a child process so its stdout can be read.
  const code = `
    import { BufferedStdout } from "${new URL("../src/log.ts", import.meta.url).href}";
    const out = new BufferedStdout();
    for (let i = 0; i < 3; i++) out.write("line " + i);
    await new Promise((r) => setTimeout(r, 10));
    out.write("last");
    out[Symbol.dispose]();
  `;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success);
  assert.equal(new TextDecoder().decode(stdout), "line 0\nline 1\nline 2\nlast\n");
});
