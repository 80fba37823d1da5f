/** The old SmartYard server's Flussonic auth backend, `GET /api/accessfl` (mounted at /api). */
import { Hono } from "hono";
import type { CameraAuth } from "../../src/cameras/media_auth.ts";
import { flussonicCheck } from "../../src/cameras/play_requests.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { readLegacyFields } from "../../src/http_legacy.ts";

/** `GET /api/accessfl`: answered like GET /api/v1/media/auth (200 with headers, or a 403 deny). */
export function accessflRoutes(deps: Pick<Deps, "log">, auth: CameraAuth) {
  return new Hono<AppEnv>().get("/accessfl", async (c) => {
    const { token, qs, name } = await readLegacyFields(c, ["token", "qs", "name"]);
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const { status, headers } = await flussonicCheck(deps, auth, {
      token: text(token),
      qs: text(qs),
      name: text(name),
      path: c.req.path,
    });
    return c.body(null, status, headers);
  });
}
