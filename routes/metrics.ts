/** GET /metrics: Prometheus text exposition, for METRICS_TOKEN or an admin API key. */
import { Hono } from "hono";
import { isApiKey } from "../src/auth/api_keys.ts";
import type { Deps } from "../src/deps.ts";
import { UnauthorizedError } from "../src/errors.ts";
import type { AppEnv } from "../src/http.ts";
import type { Metrics } from "../src/metrics.ts";

/** The metrics route; `Authorization: Bearer <METRICS_TOKEN or admin key>` (or `x-api-key: <admin key>`). */
export function metricsRoutes(deps: Pick<Deps, "config">, metrics: Metrics) {
  return new Hono<AppEnv>().get("/metrics", async (c) => {
    const bearer = c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const { METRICS_TOKEN, API_KEYS } = deps.config;
    const ok = isApiKey(METRICS_TOKEN ? [METRICS_TOKEN, ...API_KEYS] : API_KEYS, bearer) ||
      isApiKey(API_KEYS, c.req.header("x-api-key"));
    if (!ok) throw new UnauthorizedError("/metrics needs METRICS_TOKEN or an admin API key");
    return c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });
}
