/** Old clients' exact routes (mounted at /api): same semantics as the v1 API, their old shapes. */
import { Hono } from "hono";
import { z } from "zod";
import { constantTimeEqual } from "../src/crypto.ts";
import type { Deps } from "../src/deps.ts";
import { UnauthorizedError } from "../src/errors.ts";
import { type AppEnv, clientIp, validate } from "../src/http.ts";
import { requestCode, verifyCode } from "../src/otp/service.ts";

/** Throws 401 unless `secret` equals CLIENT_SECRET (and one is configured). */
export function checkClientSecret(deps: Pick<Deps, "config">, secret: string): void {
  const expected = deps.config.CLIENT_SECRET;
  if (!expected || !constantTimeEqual(expected, secret)) throw new UnauthorizedError("Invalid client_secret");
}

const secret = { client_secret: z.string().max(256) };

/** Legacy routes of the old mobile apps: POST /api/otprequest, POST /api/otpverify. */
export function legacyRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .post(
      "/otprequest",
      validate("json", z.object({ ...secret, phone: z.string().min(3).max(32) })),
      async (c) => {
        const body = c.req.valid("json");
        checkClientSecret(deps, body.client_secret);
        const sent = await requestCode(deps, { phone: body.phone, ip: clientIp(c, deps.config.TRUST_PROXY) });
        return c.json({ status: "sent", ...sent });
      },
    )
    .post(
      "/otpverify",
      validate(
        "json",
        z.object({ ...secret, phone: z.string().min(3).max(32), sms_message: z.string().max(64) }),
      ),
      async (c) => {
        const body = c.req.valid("json");
        checkClientSecret(deps, body.client_secret);
        // Old apps may send the whole SMS text; the code is its run of digits.
        const code = body.sms_message.match(/\d{4,10}/)?.[0] ?? body.sms_message;
        const pair = await verifyCode(deps, { phone: body.phone, code });
        return c.json({ status: "ok", token: pair.access_token, ...pair });
      },
    );
}
