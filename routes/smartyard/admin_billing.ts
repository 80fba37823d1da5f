/**
 * Admin routes of the SmartYard adapter (mounted at /api/v1/smartyard behind the API-key check of mod.ts):
 * the billing cache, invoices with their statuses, a settlement pass on demand, and the apps' login sessions.
 */
import { Hono } from "hono";
import { z } from "zod";
import { revokeSession } from "../../src/auth/sessions.ts";
import { getUser } from "../../src/auth/users.ts";
import { NotFoundError } from "../../src/errors.ts";
import { type AppEnv, validate } from "../../src/http.ts";
import { resyncPhones } from "../../src/smartyard/access.ts";
import { isAppSession, listAppSessions } from "../../src/smartyard/app_tokens.ts";
import { listBillingCache, purgeBillingCache } from "../../src/smartyard/billing_cache.ts";
import { getInvoice, INVOICE_STATUSES, listInvoices } from "../../src/smartyard/invoices.ts";
import type { SmartyardDeps } from "../../src/smartyard/mod.ts";
import { settlePending } from "../../src/smartyard/settle.ts";
import { pathPhone } from "./admin.ts";

const page = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
};
const phoneQuery = z.string().max(32).optional();

/** Billing cache, invoices, settlement and app sessions (admin). */
export function adminBillingRoutes(sy: SmartyardDeps) {
  return new Hono<AppEnv>()
    .get("/contracts", validate("query", z.object({ phone: phoneQuery, ...page })), async (c) => {
      const q = c.req.valid("query");
      const phone = q.phone ? pathPhone(sy, q.phone) : undefined;
      return c.json({ contracts: await listBillingCache(sy, { ...q, phone }) });
    })
    .delete("/contracts/:phone", validate("param", z.object({ phone: z.string().max(32) })), async (c) => {
      const phone = pathPhone(sy, c.req.valid("param").phone);
      if (!(await purgeBillingCache(sy, phone))) throw new NotFoundError("Nothing is cached for this phone");
      await resyncPhones(sy, [phone]);
      return c.body(null, 204);
    })
    .get(
      "/invoices",
      validate(
        "query",
        z.object({ status: z.enum(INVOICE_STATUSES).optional(), phone: phoneQuery, ...page }),
      ),
      async (c) => {
        const q = c.req.valid("query");
        const phone = q.phone ? pathPhone(sy, q.phone) : undefined;
        return c.json({ invoices: await listInvoices(sy, { ...q, phone }) });
      },
    )
    .get("/invoices/:number", validate("param", z.object({ number: z.string().max(32) })), async (c) => {
      return c.json(await getInvoice(sy, c.req.valid("param").number));
    })
    .post("/settle", async (c) => c.json(await settlePending(sy)))
    .get("/users/:user_id/app-sessions", validate("param", z.object({ user_id: z.uuid() })), async (c) => {
      const { user_id } = c.req.valid("param");
      await getUser(sy, user_id);
      return c.json({ sessions: await listAppSessions(sy, user_id) });
    })
    .delete("/app-sessions/:session_id", validate("param", z.object({ session_id: z.uuid() })), async (c) => {
      const { session_id } = c.req.valid("param");
      if (!(await isAppSession(sy, session_id))) throw new NotFoundError("No app session with this id");
      await revokeSession(sy, session_id, "admin");
      return c.body(null, 204);
    });
}
