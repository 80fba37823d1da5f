/**
 * Soak (issue 15): 200 demo vehicle lookups in a row (tests/soak_run.ts, in a server process of its own, on
 * PGlite or the DATABASE_URL Postgres like every test) leave no browser context but the browser's default
 * one, no more open descriptors than once the process had settled (after the first 20 sessions), and RSS
 * within +10% of what it was then. SOAK_SESSIONS overrides the 200 for a quick local look; CI runs the 200.
 */
import assert from "node:assert/strict";
import type { SoakSample } from "./soak_run.ts";

const TOTAL = Number(Deno.env.get("SOAK_SESSIONS") ?? 200);
/** Descriptors that may come and go without a leak (keep-alive HTTP connections, the database pool). */
const FD_SLACK = 8;

Deno.test(`soak: ${TOTAL} demo vehicle lookups in a row leave no context, no new descriptors, flat RSS`, async () => {
  const run = new URL("./soak_run.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check=remote", run, String(TOTAL)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `the soak run failed:\n${new TextDecoder().decode(out.stderr).slice(-4000)}`);
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
    seconds: number;
    samples: SoakSample[];
    contexts: { open: number; browser: number };
  };
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  console.log(
    `soak: ${TOTAL} sessions in ${report.seconds} s; ` +
      report.samples.map((s) => `${s.n}: ${s.fds} fds, RSS ${mib(s.rss)} MiB (heap ${mib(s.heap)})`).join(
        "; ",
      ),
  );
  assert.deepEqual(report.contexts, { open: 0, browser: 1 }, "only the browser's default context is left");
  const settled = report.samples[0];
  const last = report.samples.at(-1)!;
  assert.ok(last.fds <= settled.fds + FD_SLACK, `descriptors grew from ${settled.fds} to ${last.fds}`);
  assert.ok(
    last.rss <= settled.rss * 1.1,
    `RSS grew from ${mib(settled.rss)} to ${mib(last.rss)} MiB (> +10%)`,
  );
});
