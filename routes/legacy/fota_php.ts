/**
 * The old trackers' firmware check, `GET|POST /fota.php?imei=&sr=&d=&fw=&rev=` (POST may send the same as
 * form fields). `d` is the device type, `fw` the running firmware, `sr` the serial and `rev` the hardware
 * revision (both recorded, not used to decide). Answers `200 text/plain` whose body is exactly the
 * download link (no trailing newline) when an update applies, else `204`.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Deps } from "../../src/deps.ts";
import { checkForUpdate } from "../../src/fota/checks.ts";
import {
  deviceIdSchema,
  deviceTypeSchema,
  normaliseDeviceId,
  reportedVersionSchema,
} from "../../src/fota/devices.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";

const optionalText = z.string().trim().max(64).optional();
const fotaFields = z.object({
  imei: deviceIdSchema,
  d: deviceTypeSchema,
  fw: reportedVersionSchema,
  sr: optionalText,
  rev: optionalText,
});

/** `/fota.php` (mounted at /fota.php). */
export function fotaPhpRoutes(deps: Deps) {
  return new Hono<AppEnv>().on(["GET", "POST"], "/", async (c) => {
    const q = await parseLegacyFields(c, fotaFields);
    const outcome = await checkForUpdate(deps, {
      deviceType: q.d,
      deviceId: normaliseDeviceId(q.imei),
      version: q.fw,
      versionField: "fw",
      source: "legacy",
      serial: q.sr || undefined,
      revision: q.rev || undefined,
    });
    c.header("cache-control", "no-store");
    if (outcome.result !== "offered") return c.body(null, 204);
    c.header("content-type", "text/plain; charset=utf-8");
    return c.body(outcome.release.url, 200);
  });
}
