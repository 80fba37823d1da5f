/** Wires the app's Metrics to its sources (database, sessions, browser pool, media-auth cache, webhooks). */
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import type { CameraAuth } from "./cameras/media_auth.ts";
import type { Deps } from "./deps.ts";
import { Metrics } from "./metrics.ts";

/**
 * Routes media servers and devices call many times a second: their per-request line is logged at debug
 * (LOG_LEVEL=debug shows it); their counts and latencies are in /metrics.
 */
export const QUIET_ROUTES = /^\/api\/(v1\/media\/auth(\/\w+)?|accessfl)$/;

/** One answered request: counted in the metrics and logged (at debug on the QUIET_ROUTES). */
export function requestDone(
  metrics: Metrics,
  log: Deps["log"],
  r: { method: string; route: string; path: string; status: number; ms: number; requestId: string },
): void {
  metrics.request(r.method, r.route, r.status, r.ms / 1000);
  // The path only: query strings can carry tokens (media auth, WebSocket tickets).
  (QUIET_ROUTES.test(r.route) ? log.debug : log.info)("request", {
    method: r.method,
    path: r.path,
    status: r.status,
    duration_ms: Math.round(r.ms * 100) / 100,
    request_id: r.requestId,
  });
}

/** The route pattern that answered (`/api/v1/sessions/:id`), or `(unmatched)`: never the raw path. */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i].method !== "ALL") return routes[i].path;
  return "(unmatched)";
}

/** The app's metrics (deps.metrics, or a fresh registry), fed by the app's own objects. */
export function appMetrics(deps: Deps, cameraAuth: CameraAuth): Metrics {
  if (deps.metrics) return deps.metrics;
  const automation = deps.automation;
  const metrics = new Metrics({
    db: deps.db,
    sessionLoad: automation && (() => automation.sessions.load()),
    openContexts: automation && (() => automation.pool.openContexts),
    warmPages: automation && (() => automation.pool.warmPages),
    mediaAuthCache: () => cameraAuth.stats(),
    connections: deps.connections,
  });
  // prompt wait: from the prompt to the next "running" of the same session
  const asked = new Map<string, number>();
  deps.events.on("session.", (e) => {
    const id = String(e.data.session_id);
    if (e.type === "session.prompt") asked.set(id, e.at.getTime());
    else if (e.type === "session.status" && asked.has(id) && e.data.status !== "waiting") {
      metrics.promptAnswered(Math.max(0, e.at.getTime() - asked.get(id)!) / 1000);
      asked.delete(id);
    }
  });
  return metrics;
}
