/** The server's health: version, uptime and whether the database answers (and how fast). */
import { sql } from "drizzle-orm";
import type { AppDeps } from "./deps.ts";
import { VERSION } from "./version.ts";

/** Whether the database answers a trivial query, and its round trip in milliseconds. */
export type DatabaseCheck = { status: "ok"; latency_ms: number } | { status: "error"; error: string };

/** What GET /health/detailed reports; `status` is "degraded" when a check failed. */
export interface HealthReport {
  status: "ok" | "degraded";
  version: string;
  uptime_s: number;
  checks: { database: DatabaseCheck };
}

/** Runs `select 1` against the database. */
export async function checkDatabase(deps: Pick<AppDeps, "db">): Promise<DatabaseCheck> {
  const t = performance.now();
  try {
    await deps.db.execute(sql`select 1`);
    return { status: "ok", latency_ms: Math.round((performance.now() - t) * 100) / 100 };
  } catch (err) {
    return { status: "error", error: err instanceof Error ? err.message : String(err) };
  }
}

/** The detailed health report of the server started at `deps.startedAt`. */
export async function healthReport(deps: Pick<AppDeps, "db" | "startedAt">): Promise<HealthReport> {
  const database = await checkDatabase(deps);
  return {
    status: database.status === "ok" ? "ok" : "degraded",
    version: VERSION,
    uptime_s: Math.round((performance.now() - deps.startedAt) / 1000),
    checks: { database },
  };
}
