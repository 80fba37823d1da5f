/**
 * The Flussonic play check (`GET /api/v1/media/auth`) answered before the router: media servers call it on
 * every play and every session update, so it skips Hono's middleware chain but keeps what that chain gives
 * it — the request id, the metrics (route pattern, status, latency), a debug log line, the problem mapping.
 * Same decision and headers as the routed handler (routes/media_auth.ts): both call flussonicCheck.
 */
import type { Deps } from "../deps.ts";
import { problemResponse, toProblem } from "../errors.ts";
import { requestDone } from "../app_metrics.ts";
import type { Metrics } from "../metrics.ts";
import type { CameraAuth } from "./media_auth.ts";
import { flussonicCheck } from "./play_requests.ts";

/** The route pattern this path answers, as the metrics and logs name it. */
export const FAST_ROUTE = "/api/v1/media/auth";
const REQUEST_ID = /^[\w.-]{1,128}$/;

/**
 * `token`, `qs` and `name` of a query string, decoded as URLSearchParams would (first occurrence wins);
 * the other dozen parameters Flussonic sends are skipped without decoding (URLSearchParams decoded them
 * all: ~7 µs of a ~20 µs check, the token riding twice).
 */
export function pickParams(query: string): { token?: string; qs?: string; name?: string } {
  const out: { token?: string; qs?: string; name?: string } = {};
  let from = 0;
  while (from <= query.length) {
    let to = query.indexOf("&", from);
    if (to < 0) to = query.length;
    const eq = query.indexOf("=", from);
    const keyEnd = eq < 0 || eq > to ? to : eq;
    const rawKey = query.slice(from, keyEnd);
    const key = rawKey.includes("%") || rawKey.includes("+") ? decodeParam(rawKey) : rawKey;
    if ((key === "token" || key === "qs" || key === "name") && out[key] === undefined) {
      out[key] = decodeParam(keyEnd < to ? query.slice(keyEnd + 1, to) : "");
    }
    from = to + 1;
  }
  return out;
}

/** One application/x-www-form-urlencoded value: `+` is a space; a bad escape stays as written. */
function decodeParam(raw: string): string {
  const plain = raw.includes("+") ? raw.replaceAll("+", " ") : raw;
  if (!plain.includes("%")) return plain;
  try {
    return decodeURIComponent(plain);
  } catch {
    return new URLSearchParams(`v=${raw}`).get("v") ?? ""; // URLSearchParams' lenient decoding
  }
}

/** A fetch handler for the Flussonic check, or `undefined` for any other request (the router takes it). */
export function mediaAuthFastPath(
  deps: Pick<Deps, "log">,
  auth: CameraAuth,
  metrics: Metrics,
): (req: Request) => Promise<Response> | undefined {
  return (req) => {
    if (req.method !== "GET") return undefined;
    const url = req.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    if (!url.startsWith(FAST_ROUTE, start)) return undefined;
    const end = start + FAST_ROUTE.length;
    if (end !== url.length && url[end] !== "?") return undefined;
    return answer(req, url.slice(end + 1));
  };

  async function answer(req: Request, query: string): Promise<Response> {
    const started = performance.now();
    const incoming = req.headers.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    let res: Response;
    try {
      const q = pickParams(query);
      const { status, headers } = await flussonicCheck(deps, auth, { ...q, path: FAST_ROUTE });
      res = new Response(null, { status, headers: { ...headers, "x-request-id": requestId } });
    } catch (err) {
      const { problem, headers } = toProblem(err, FAST_ROUTE);
      if (problem.status >= 500) {
        deps.log.error("unhandled error", { path: FAST_ROUTE, request_id: requestId, error: err });
      }
      res = problemResponse(problem, { ...headers, "x-request-id": requestId });
    }
    requestDone(metrics, deps.log, {
      method: "GET",
      route: FAST_ROUTE,
      path: FAST_ROUTE,
      status: res.status,
      ms: performance.now() - started,
      requestId,
    });
    return res;
  }
}
