/**
 * `deno task test`: `deno test -A --parallel [files…]`. A whole-suite run (no files given) also collects what
 * the server logs, stores and hands out (tests/suite_scan.ts) and runs the secret scan after it
 * (tests/scan_suite.ts); the exit code is the suite's, or 1 when the scan finds a secret.
 */
const files = Deno.args;
const dir = files.length ? undefined : await Deno.makeTempDir({ prefix: "gatehouse-scan-" });
const run = async (args: string[], env: Record<string, string> = {}) =>
  (await new Deno.Command(Deno.execPath(), { args, env }).spawn().status).code;
let code = await run(["test", "-A", "--parallel", ...files], dir ? { GATEHOUSE_SCAN_DIR: dir } : {});
if (dir) {
  if (await run(["run", "-A", new URL("scan_suite.ts", import.meta.url).pathname, dir]) !== 0) code = 1;
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(code);
