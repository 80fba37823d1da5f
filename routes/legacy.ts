/** Old clients' exact routes (mounted at /api): same semantics as the v1 API, their old shapes. */
import { Hono } from "hono";
import { z } from "zod";
import { constantTimeEqual } from "../src/crypto.ts";
import type { Deps } from "../src/deps.ts";
import { UnauthorizedError } from "../src/errors.ts";
import { type AppEnv, clientIp, validate } from "../src/http.ts";
import { requestCode, verifyCode } from "../src/otp/service.ts";
import { resolveLegacyUser } from "../src/devices/legacy.ts"; // devices
import { checkDevice, claimDevice } from "../src/devices/registry.ts"; // devices
import { reportUssd } from "../src/devices/sim.ts"; // devices
import { ValidationError } from "../src/errors.ts"; // devices

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
    )
    .route("/", legacyDeviceRoutes(deps)); // devices
}

// ---- devices (the old GPS-tracker middleware's routes)

/**
 * `POST /api/device` (claim) and `POST /api/checkDeviceInfo` (check), as the old app calls them. `user` is
 * the gatehouse user id or the user's phone number (see src/devices/legacy.ts); `dp` is the display name.
 */
function legacyDeviceRoutes(deps: Deps) {
  const device = { ...secret, user: z.string().min(1).max(64), imei: z.string().max(32) };
  return new Hono<AppEnv>()
    .post(
      "/device",
      validate("json", z.object({ ...device, dp: z.string().trim().max(100).optional() })),
      async (c) => {
        const body = c.req.valid("json");
        checkClientSecret(deps, body.client_secret);
        const userId = await resolveLegacyUser(deps, body.user);
        const { device, created } = await claimDevice(deps, {
          userId,
          imei: body.imei.trim(),
          name: body.dp || undefined,
        });
        return c.json(device, created ? 201 : 200);
      },
    )
    .post("/checkDeviceInfo", validate("json", z.object(device)), async (c) => {
      const body = c.req.valid("json");
      checkClientSecret(deps, body.client_secret);
      const userId = await resolveLegacyUser(deps, body.user);
      return c.json(await checkDevice(deps, { kind: "user", userId, sessionId: "" }, body.imei.trim()));
    });
}

/**
 * Root-level routes of the trackers' firmware (mounted at `/`): `GET` or `POST /qussd.php?imei=…&data=…`
 * (POST may send the fields as a form instead) with a USSD reply, answered 200 with what it said.
 */
export function legacyUssdRoutes(deps: Deps) {
  return new Hono<AppEnv>().on(["GET", "POST"], "/qussd.php", async (c) => {
    const fields: Record<string, string | undefined> = {
      imei: c.req.query("imei"),
      data: c.req.query("data"),
    };
    const type = c.req.header("content-type") ?? "";
    if (c.req.method === "POST" && /form-urlencoded|multipart\/form-data/i.test(type)) {
      const form = await c.req.parseBody();
      for (const key of ["imei", "data"] as const) {
        if (fields[key] === undefined && typeof form[key] === "string") fields[key] = form[key] as string;
      }
    }
    const missing = (["imei", "data"] as const).filter((k) => fields[k] === undefined);
    if (missing.length) {
      throw new ValidationError(missing.map((field) => ({ field, message: `${field} is required` })));
    }
    if (fields.data!.length > 4096) {
      throw new ValidationError([{ field: "data", message: "At most 4096 characters" }]);
    }
    return c.json(await reportUssd(deps, { imei: fields.imei!.trim(), data: fields.data! }));
  });
}
