/** What the wrk-based benches share: reading wrk's output, medians of rounds, and the machine's load. */

export interface WrkResult {
  requests_per_s: number;
  latency_ms: { p50: number; p75: number; p90: number; p99: number };
  requests: number;
  non_2xx: number;
  socket_errors: string | null;
}

/** wrk prints latencies with a unit; milliseconds. */
function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

export function parseWrk(out: string): WrkResult {
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  const pct = (p: number) => {
    const m = out.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m"));
    if (!m) throw new Error(`wrk output has no ${p}% latency line:\n${out}`);
    return Math.round(toMs(m[1], m[2]) * 1000) / 1000;
  };
  if (!rps) throw new Error(`wrk output has no Requests/sec:\n${out}`);
  return {
    requests_per_s: Number(rps[1]),
    latency_ms: { p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99) },
    requests: Number(out.match(/(\d+) requests in/)?.[1] ?? 0),
    non_2xx: Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0),
    socket_errors: out.match(/Socket errors:.*$/m)?.[0] ?? null,
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function summary(runs: WrkResult[]) {
  return {
    requests_per_s: Math.round(median(runs.map((r) => r.requests_per_s))),
    p50_ms: median(runs.map((r) => r.latency_ms.p50)),
    p99_ms: median(runs.map((r) => r.latency_ms.p99)),
    runs,
  };
}

export async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "unknown")).trim();
}
