/**
 * The trackers' firmware reporting USSD replies: `GET|POST /qussd.php?imei=…&data=…` (POST may send the
 * fields as a form instead), answered 200 with what the reply said.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Deps } from "../../src/deps.ts";
import { reportUssd } from "../../src/devices/sim.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";

const required = (field: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? `${field} is required` : undefined;

const ussdFields = z.object({
  imei: z.string({ error: required("imei") }).trim(),
  data: z.string({ error: required("data") }).max(4096, "At most 4096 characters"),
});

/** `/qussd.php` (mounted at /qussd.php). */
export function qussdRoutes(deps: Deps) {
  return new Hono<AppEnv>().on(["GET", "POST"], "/", async (c) => {
    return c.json(await reportUssd(deps, await parseLegacyFields(c, ussdFields)));
  });
}
