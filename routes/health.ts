/** Liveness and readiness: GET /health, GET /health/detailed. */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { Deps } from "../src/deps.ts";
import type { AppEnv } from "../src/http.ts";
import { VERSION } from "../src/version.ts";

const startedAt = performance.now();

/** Health routes: cheap liveness, and a detailed view with database reachability and latency. */
export function healthRoutes(deps: Pick<Deps, "db">) {
  return new Hono<AppEnv>()
    .get("/", (c) => c.json({ status: "ok" }))
    .get("/detailed", async (c) => {
      const t = performance.now();
      let database: Record<string, unknown>;
      try {
        await deps.db.execute(sql`select 1`);
        database = { status: "ok", latency_ms: Math.round((performance.now() - t) * 100) / 100 };
      } catch (err) {
        database = { status: "error", error: err instanceof Error ? err.message : String(err) };
      }
      const ok = database.status === "ok";
      return c.json({
        status: ok ? "ok" : "degraded",
        version: VERSION,
        uptime_s: Math.round((performance.now() - startedAt) / 1000),
        checks: { database },
      }, ok ? 200 : 503);
    });
}
