/**
 * The old mobile apps' routes (mounted at /api): phone login (`POST /api/otprequest`,
 * `POST /api/otpverify`) and the GPS-tracker middleware's device routes (`POST /api/device`,
 * `POST /api/checkDeviceInfo`). Every request carries `client_secret` (CLIENT_SECRET). `user` is the
 * gatehouse user id or the user's phone number (src/devices/legacy.ts); `dp` is a device's display name.
 */
import { Hono } from "hono";
import { z } from "zod";
import { checkClientSecret } from "../../src/auth/client_secret.ts";
import type { AppDeps } from "../../src/deps.ts";
import { checkForLegacyUser, claimForLegacyUser } from "../../src/devices/legacy.ts";
import { type AppEnv, clientIp } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";
import { verifySmsMessage } from "../../src/otp/legacy.ts";
import { requestLegacyCode } from "../../src/otp/service.ts";

const secret = { client_secret: z.string().max(256) };
const phone = z.string().min(3).max(32);
const device = { ...secret, user: z.string().min(1).max(64), imei: z.string().max(32) };

const otpRequestFields = z.object({ ...secret, phone });
const otpVerifyFields = z.object({ ...secret, phone, sms_message: z.string().max(64) });
const claimFields = z.object({ ...device, dp: z.string().trim().max(100).optional() });
const checkFields = z.object(device);

/** The mobile apps' login and device routes. */
export function mobileAppRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .post("/otprequest", async (c) => {
      const body = await parseLegacyFields(c, otpRequestFields);
      checkClientSecret(deps, body.client_secret);
      const sent = await requestLegacyCode(deps, {
        phone: body.phone,
        ip: clientIp(c, deps.config.TRUST_PROXY),
      });
      return c.json({ status: "sent", ...sent });
    })
    .post("/otpverify", async (c) => {
      const body = await parseLegacyFields(c, otpVerifyFields);
      checkClientSecret(deps, body.client_secret);
      const pair = await verifySmsMessage(deps, { phone: body.phone, smsMessage: body.sms_message });
      return c.json({ status: "ok", token: pair.access_token, ...pair });
    })
    .post("/device", async (c) => {
      const body = await parseLegacyFields(c, claimFields);
      checkClientSecret(deps, body.client_secret);
      const { device, created } = await claimForLegacyUser(deps, { ...body, name: body.dp });
      return c.json(device, created ? 201 : 200);
    })
    .post("/checkDeviceInfo", async (c) => {
      const body = await parseLegacyFields(c, checkFields);
      checkClientSecret(deps, body.client_secret);
      return c.json(await checkForLegacyUser(deps, body));
    });
}
