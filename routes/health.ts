/** Liveness and readiness: GET /health, GET /health/detailed. */
import { Hono } from "hono";
import type { AppDeps } from "../src/deps.ts";
import { DATABASE_RETRY_AFTER_S } from "../src/errors.ts";
import { healthReport } from "../src/health.ts";
import type { AppEnv } from "../src/http.ts";

/** Health routes: cheap liveness, and a detailed view with database reachability and latency. */
export function healthRoutes(deps: Pick<AppDeps, "db" | "startedAt">) {
  return new Hono<AppEnv>()
    .get("/", (c) => c.json({ status: "ok" }))
    .get("/detailed", async (c) => {
      const report = await healthReport(deps);
      if (report.status === "ok") return c.json(report, 200);
      return c.json(report, 503, { "retry-after": String(DATABASE_RETRY_AFTER_S) }); // a load balancer retries
    });
}
