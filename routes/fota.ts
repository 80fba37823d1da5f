/**
 * Device update checks (no user token, no claim needed): /api/v1/fota/check, /api/v1/fota/esp and the
 * operators' view /api/v1/fota/devices/:id. The old trackers' /fota.php is in routes/legacy/fota_php.ts.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import type { Deps } from "../src/deps.ts";
import { NotFoundError, ValidationError } from "../src/errors.ts";
import { checkForUpdate, deviceCheckState } from "../src/fota/checks.ts";
import {
  deviceIdSchema,
  deviceTypeSchema,
  MAC,
  normaliseDeviceId,
  reportedVersionSchema,
} from "../src/fota/devices.ts";
import { type AppEnv, validate } from "../src/http.ts";

const checkQuery = z.object({
  imei: deviceIdSchema.optional(),
  device_id: deviceIdSchema.optional(),
  device_type: deviceTypeSchema,
  version: reportedVersionSchema,
}).refine((q) => q.imei || q.device_id, { path: ["imei"], message: "imei (or device_id) is required" });

const deviceParam = z.object({ device_id: deviceIdSchema });
/** `/api/v1/fota/*`: the JSON check, the ESP HTTPUpdate check, and (admin) a device's last check. */
export function fotaRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .get("/check", validate("query", checkQuery), async (c) => {
      const q = c.req.valid("query");
      const outcome = await checkForUpdate(deps, {
        deviceType: q.device_type,
        deviceId: normaliseDeviceId((q.imei ?? q.device_id)!),
        version: q.version,
        source: "api",
      });
      c.header("cache-control", "no-store");
      if (outcome.result !== "offered") return c.body(null, 204);
      const r = outcome.release;
      return c.json({
        release_id: r.id,
        version: r.version,
        url: r.url,
        sha256: r.sha256,
        size: r.size,
        md5: r.md5,
      });
    })
    .get("/esp", validate("query", z.object({ device_type: deviceTypeSchema })), async (c) => {
      return await espCheck(deps, c, c.req.valid("query").device_type);
    })
    .get("/devices/:device_id", requireAuth(deps, ["admin"]), validate("param", deviceParam), async (c) => {
      const id = normaliseDeviceId(c.req.valid("param").device_id);
      const state = await deviceCheckState(deps, id);
      if (!state) throw new NotFoundError(`Device ${id} has never checked for firmware`);
      return c.json(state);
    });
}

/**
 * ESP8266 / ESP32 `HTTPUpdate`. The request headers are those the updaters send, as in
 * esp8266/Arduino libraries/ESP8266httpUpdate/src/ESP8266httpUpdate.cpp (handleUpdate):
 * `x-ESP8266-STA-MAC`, `x-ESP8266-AP-MAC`, `x-ESP8266-free-space`, `x-ESP8266-sketch-size`,
 * `x-ESP8266-sketch-md5`, `x-ESP8266-chip-size`, `x-ESP8266-sdk-version`, `x-ESP8266-mode`, and
 * `x-ESP8266-version` (only when the sketch passes a currentVersion); and espressif/arduino-esp32
 * libraries/HTTPUpdate/src/HTTPUpdate.cpp: the same with `x-ESP32-`, except that the sketch MD5 is
 * not sent (a "To do") and newer cores send `x-ESP32-sketch-sha256` instead.
 * Both updaters read `x-MD5` from the answer, treat 304 as "no update", 200 as the binary, anything
 * else as a failure, and follow redirects only after `setFollowRedirects(HTTPC_STRICT_FOLLOW_REDIRECTS)`
 * (the default is HTTPC_DISABLE_FOLLOW_REDIRECTS). HTTPClient also clears collected headers on every
 * redirect hop, so the `x-MD5` we put on the 302 only reaches the updater if the file server repeats it.
 *
 * Decisions: no update, or an update that cannot be served to this board (bigger than its free space,
 * or an ftp: URL it cannot fetch) → 304, recorded with the reason (GET /api/v1/fota/devices/:mac and the
 * release stats' refused_devices), because any 4xx only makes the updater log an error every poll.
 * A missing STA MAC or version, or a version that does not parse, is a 422: that is a sketch bug.
 */
async function espCheck(deps: Deps, c: Context<AppEnv>, deviceType: string): Promise<Response> {
  const family = c.req.header("x-ESP8266-STA-MAC") !== undefined
    ? "ESP8266"
    : c.req.header("x-ESP32-STA-MAC") !== undefined
    ? "ESP32"
    : null;
  if (!family) {
    throw new ValidationError(
      [{ field: "x-ESP8266-STA-MAC", message: "x-ESP8266-STA-MAC or x-ESP32-STA-MAC header is required" }],
      "This route is for the ESP8266/ESP32 HTTPUpdate client",
    );
  }
  const h = (name: string) => c.req.header(`x-${family}-${name}`)?.trim() || undefined;
  const errors: { field: string; message: string }[] = [];
  const mac = h("STA-MAC") ?? "";
  if (!MAC.test(mac)) {
    errors.push({ field: `x-${family}-STA-MAC`, message: "must be a MAC address like CC:50:E3:55:F6:07" });
  }
  const version = h("version");
  if (!version) {
    errors.push({
      field: `x-${family}-version`,
      message: "is required: pass currentVersion to httpUpdate.update()",
    });
  }
  const freeRaw = h("free-space");
  if (freeRaw !== undefined && !/^\d{1,10}$/.test(freeRaw)) {
    errors.push({ field: `x-${family}-free-space`, message: "must be a number of bytes" });
  }
  if (errors.length) throw new ValidationError(errors);
  const md5 = h("sketch-md5"), sha = h("sketch-sha256");
  const sketchHash = md5 && /^[0-9a-fA-F]{32}$/.test(md5)
    ? `md5:${md5.toLowerCase()}`
    : sha && /^[0-9a-fA-F]{64}$/.test(sha)
    ? `sha256:${sha.toLowerCase()}`
    : undefined;

  const outcome = await checkForUpdate(deps, {
    deviceType,
    deviceId: mac.toUpperCase(),
    version: version!,
    versionField: `x-${family}-version`,
    source: "esp",
    freeSpace: freeRaw === undefined ? undefined : Math.min(Number(freeRaw), 2 ** 31 - 1),
    sketchHash,
    schemes: ["http:", "https:"],
  });
  c.header("cache-control", "no-store");
  if (outcome.result !== "offered") {
    if (outcome.result === "refused") c.header("x-gatehouse-reason", outcome.reason.split(":")[0]);
    return c.body(null, 304);
  }
  const r = outcome.release;
  if (r.md5) c.header("x-MD5", r.md5);
  c.header("x-firmware-version", r.version);
  c.header("x-firmware-size", String(r.size));
  return c.redirect(r.url, 302);
}
