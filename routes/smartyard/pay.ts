/** The apps' account and payments: user/getPaymentsList, user/getBillingList, pay/*, and the bank's callback. */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { paymentsList } from "../../src/smartyard/accounts.ts";
import { handleCallback } from "../../src/smartyard/callback.ts";
import type { SmartyardDeps } from "../../src/smartyard/mod.ts";
import { parseAppKopecks } from "../../src/smartyard/money.ts";
import { preparePayment, processPayment, registerPayment } from "../../src/smartyard/payments.ts";
import { appAuth, caller, ok, readJson, type SyEnv } from "./http.ts";

/** Kopecks as the apps send them: 50000, "50000" or "50000.0". */
const kopecks = z.union([z.string().max(20), z.number()]).transform((v, ctx) => {
  const k = parseAppKopecks(v);
  if (k === null) {
    ctx.addIssue({ code: "custom", message: "must be a whole positive number of kopecks" });
    return z.NEVER;
  }
  return k;
});
const idText = (max: number) =>
  z.union([z.string().trim().min(1).max(max), z.number().int().min(0)]).transform(String);

/** The body of pay/prepare. */
export const prepareBody = z.object({ clientId: idText(64), amount: kopecks });
/** The body of pay/register (amount: int on Android, string on iOS). */
export const registerBody = z.object({
  orderNumber: idText(32).pipe(z.string().regex(/^[\w-]+$/, "must be an order number")),
  amount: kopecks,
});
/** The body of pay/process (after a native Apple/Google Pay payment). */
export const processBody = z.object({
  paymentId: idText(32),
  sbId: z.string().trim().min(1).max(64).optional(),
});

/** Account and payment routes of the apps' API. */
export function payRoutes(sy: SmartyardDeps) {
  const auth = appAuth(sy);
  const list = async (c: Context<SyEnv>) => {
    await readJson(c, z.object({}));
    return ok(c, await paymentsList(sy, caller(c)));
  };
  return new Hono<SyEnv>()
    .post("/user/getPaymentsList", auth, list)
    .post("/user/getBillingList", auth, list)
    .post("/pay/prepare", auth, async (c) => {
      return ok(c, await preparePayment(sy, caller(c), await readJson(c, prepareBody)));
    })
    .post("/pay/register", appAuth(sy, { optional: true }), async (c) => {
      return ok(c, await registerPayment(sy, c.get("appUser"), await readJson(c, registerBody)));
    })
    .post("/pay/process", auth, async (c) => {
      await processPayment(sy, caller(c), await readJson(c, processBody));
      return ok(c, {});
    })
    // The bank calls back with GET (or POST, form-encoded) at the URL set in its merchant profile.
    .on(["GET", "POST"], "/pay/callback", async (c) => {
      const params: Record<string, string> = { ...c.req.query() };
      if (c.req.method === "POST" && /form-urlencoded/i.test(c.req.header("content-type") ?? "")) {
        for (const [k, v] of Object.entries(await c.req.parseBody())) {
          if (typeof v === "string") params[k] = v;
        }
      }
      return ok(c, { result: await handleCallback(sy, params) });
    });
}
