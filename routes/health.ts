/** Liveness and readiness: GET /health, GET /health/detailed. */
import { Hono } from "hono";
import type { AppDeps } from "../src/deps.ts";
import { healthReport } from "../src/health.ts";
import type { AppEnv } from "../src/http.ts";

/** Health routes: cheap liveness, and a detailed view with database reachability and latency. */
export function healthRoutes(deps: Pick<AppDeps, "db" | "startedAt">) {
  return new Hono<AppEnv>()
    .get("/", (c) => c.json({ status: "ok" }))
    .get("/detailed", async (c) => {
      const report = await healthReport(deps);
      return c.json(report, report.status === "ok" ? 200 : 503);
    });
}
