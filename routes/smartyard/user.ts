/** The apps' login and start-up calls: user/phonePattern … user/ping, ext/options. */
import { Hono } from "hono";
import { z } from "zod";
import { clientIp } from "../../src/http.ts";
import { confirmAppCode, requestAppCode } from "../../src/smartyard/login.ts";
import { paymentsAvailable, type SmartyardDeps } from "../../src/smartyard/mod.ts";
import {
  appOptions,
  appVersionAdvice,
  notificationSettings,
  registerPushToken,
  saveName,
} from "../../src/smartyard/profile.ts";
import { appAuth, caller, ok, readJson, type SyEnv } from "./http.ts";

const tfFlag = z.enum(["t", "f"]).transform((v) => v === "t");
const name = z.string().trim().min(1).max(100);

/** The body of user/requestCode (VUE and PHP clients also send `method`). */
export const requestCodeBody = z.object({
  userPhone: z.string().max(32),
  method: z.string().max(32).optional(),
});

/** The body of user/appVersion; the version is its leading dotted number ("2.3.1 (45)" reads as 2.3.1). */
export const appVersionBody = z.object({
  version: z.union([z.string().max(64), z.number().int().min(0)]).transform(String)
    .pipe(z.string().regex(/^\d+(\.\d+)*/, "must start with a version number")).transform((v) =>
      /^\d+(\.\d+)*/.exec(v)![0]
    ),
  platform: z.enum(["android", "ios", "huawei"]).transform((p) => (p === "ios" ? "ios" : "android")),
});

/** The body of user/registerPushToken (Android and iOS fields). */
export const pushTokenBody = z.object({
  pushToken: z.string().min(1).max(4096),
  platform: z.enum(["android", "ios", "huawei"]),
  pushService: z.string().max(16).optional(),
  voipToken: z.string().max(4096).optional(),
  type: z.number().int().min(0).max(3).optional(),
  clientId: z.string().max(64).optional(),
  production: tfFlag.optional(),
});

/** User routes of the apps' API. */
export function userRoutes(sy: SmartyardDeps) {
  const auth = appAuth(sy);
  const maybe = appAuth(sy, { optional: true });
  const codeBody = z.object({
    userPhone: z.string().max(32),
    smsCode: z.string().regex(
      new RegExp(`^\\d{${sy.config.SMARTYARD_OTP_LENGTH}}$`),
      `must be ${sy.config.SMARTYARD_OTP_LENGTH} digits`,
    ),
  });
  return new Hono<SyEnv>()
    .post("/user/phonePattern", async (c) => {
      await readJson(c, z.object({}));
      return ok(c, sy.config.SMARTYARD_PHONE_PATTERN);
    })
    .post("/user/requestCode", async (c) => {
      const body = await readJson(c, requestCodeBody);
      await requestAppCode(sy, { userPhone: body.userPhone, ip: clientIp(c, sy.config.TRUST_PROXY) });
      return ok(c, { method: "sms" });
    })
    .post("/user/confirmCode", async (c) => {
      return ok(c, await confirmAppCode(sy, await readJson(c, codeBody)));
    })
    .post("/ext/options", maybe, async (c) => {
      await readJson(c, z.object({}));
      return ok(c, appOptions(sy.config, paymentsAvailable(sy)));
    })
    .post("/user/appVersion", maybe, async (c) => {
      return ok(c, appVersionAdvice(sy.config, await readJson(c, appVersionBody)));
    })
    .post("/user/registerPushToken", auth, async (c) => {
      await registerPushToken(sy, caller(c), await readJson(c, pushTokenBody));
      return ok(c);
    })
    .post("/user/sendName", auth, async (c) => {
      const body = await readJson(c, z.object({ name, patronymic: z.string().trim().max(100).optional() }));
      await saveName(sy, caller(c), body);
      return ok(c);
    })
    .post("/user/notification", auth, async (c) => {
      const body = await readJson(c, z.object({ money: tfFlag.optional(), enable: tfFlag.optional() }));
      return ok(c, await notificationSettings(sy, caller(c), body));
    })
    .post("/user/ping", auth, async (c) => {
      await readJson(c, z.object({}));
      return ok(c);
    });
}
