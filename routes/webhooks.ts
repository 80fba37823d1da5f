/**
 * Webhook subscriptions (admin API key): create (the secret is shown once), list, get, update, delete,
 * rotate the secret, and list or retry deliveries. Domain in src/webhooks/endpoints.ts.
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import type { AppDeps } from "../src/deps.ts";
import { type AppEnv, validate } from "../src/http.ts";
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  retryDelivery,
  rotateSecret,
  updateEndpoint,
} from "../src/webhooks/endpoints.ts";
import { secretBoxOf } from "../src/webhooks/mod.ts";
import { EVENT_TYPES } from "../src/webhooks/session_events.ts";

const url = z.url({ protocol: /^https?$/ }).max(2000);
const events = z.array(z.enum(["*", ...EVENT_TYPES])).min(1).max(EVENT_TYPES.length + 1);

/** The subscriptions API, mounted at /api/v1/webhooks. */
export function webhookRoutes(deps: AppDeps) {
  const domain = { ...deps, secrets: secretBoxOf(deps.config) };
  return new Hono<AppEnv>()
    .use(requireAuth(deps, ["admin"]))
    .post("/", validate("json", z.object({ url, events })), async (c) => {
      return c.json(await createEndpoint(domain, c.req.valid("json")), 201);
    })
    .get("/", async (c) => c.json(await listEndpoints(domain)))
    .get("/:id", async (c) => c.json(await getEndpoint(domain, c.req.param("id"))))
    .patch(
      "/:id",
      validate(
        "json",
        z.object({ url: url.optional(), events: events.optional(), enabled: z.boolean().optional() }),
      ),
      async (c) => c.json(await updateEndpoint(domain, c.req.param("id"), c.req.valid("json"))),
    )
    .delete("/:id", async (c) => {
      await deleteEndpoint(deps, c.req.param("id"));
      return c.body(null, 204);
    })
    .post("/:id/rotate-secret", async (c) => c.json(await rotateSecret(domain, c.req.param("id"))))
    .get("/:id/deliveries", async (c) => c.json(await listDeliveries(deps, c.req.param("id"))))
    .post("/:id/deliveries/:delivery_id/retry", async (c) => {
      return c.json(await retryDelivery(deps, c.req.param("id"), c.req.param("delivery_id")), 202);
    });
}
