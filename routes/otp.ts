/** Phone login: POST /api/v1/otp/request and /api/v1/otp/verify. */
import { Hono } from "hono";
import { z } from "zod";
import type { Deps } from "../src/deps.ts";
import { type AppEnv, clientIp, validate } from "../src/http.ts";
import { requestCode, verifyCode } from "../src/otp/service.ts";

/** The body of a code request. */
export const otpRequestBody = z.object({ phone: z.string().min(3).max(32) });
/** The body of a code check. */
export const otpVerifyBody = z.object({
  phone: z.string().min(3).max(32),
  code: z.string().regex(/^\s*\d{4,10}\s*$/, "must be 4 to 10 digits"),
});

/** OTP routes: request a code by SMS, verify it for a token pair. */
export function otpRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .post("/request", validate("json", otpRequestBody), async (c) => {
      const body = c.req.valid("json");
      return c.json(
        await requestCode(deps, { phone: body.phone, ip: clientIp(c, deps.config.TRUST_PROXY) }),
        202,
      );
    })
    .post("/verify", validate("json", otpVerifyBody), async (c) => {
      return c.json(await verifyCode(deps, c.req.valid("json")));
    });
}
