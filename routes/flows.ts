/** Flows: GET /api/v1/flows lists what sessions can run, with each flow's input as JSON Schema. */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import type { Deps } from "../src/deps.ts";
import type { AppEnv } from "../src/http.ts";

/** Flow routes: the catalogue of flows. */
export function flowRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .get("/", requireAuth(deps), (c) => {
      const flows = requireAutomation(deps).sessions.flows().map((f) => ({
        name: f.name,
        title: f.title,
        description: f.description,
        input_schema: z.toJSONSchema(f.input, { io: "input", unrepresentable: "any" }),
      }));
      return c.json({ flows });
    });
}
