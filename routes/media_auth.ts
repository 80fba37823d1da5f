/**
 * The auth backend media servers call (no API key; the camera token is the credential):
 * - GET  /api/v1/media/auth           Flussonic `auth`/`on_play` (the old GET /api/accessfl is in
 *                                      routes/legacy/accessfl.ts);
 * - GET  /api/v1/media/auth/nginx     nginx `auth_request`, reading X-Original-URI;
 * - POST /api/v1/media/auth/mediamtx  MediaMTX `authMethod: http`.
 * A deny is 403 (401 for MediaMTX) with an empty body, never a 5xx: Flussonic keeps its previous
 * decision on a 5xx. Tokens ride in query strings, which the request logger never writes.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { CameraAuth, MediaAuthDecision } from "../src/cameras/media_auth.ts";
import { flussonicCheck, parseOriginalUri, tokenFromQuery } from "../src/cameras/play_requests.ts";
import type { Deps } from "../src/deps.ts";
import type { AppEnv } from "../src/http.ts";

/** The fields of MediaMTX's HTTP auth request that gatehouse reads (it sends more). */
const mediaMtxBody = z.object({
  token: z.string().optional().catch(undefined),
  password: z.string().optional().catch(undefined),
  query: z.string().optional().catch(undefined),
  path: z.string().optional().catch(undefined),
  action: z.string().optional().catch(undefined),
});

function deny(
  c: Context<AppEnv>,
  deps: Pick<Deps, "log">,
  backend: string,
  d: MediaAuthDecision,
  status: 401 | 403,
) {
  if (!d.allow) deps.log.debug("media auth denied", { backend, reason: d.reason, path: c.req.path });
  return c.body(null, status);
}

/** Media-auth routes, mounted at /api/v1/media. */
export function mediaAuthRoutes(deps: Pick<Deps, "log">, auth: CameraAuth) {
  return new Hono<AppEnv>()
    .get("/auth", async (c) => {
      // Only the parameters needed are read (the query carries a dozen, and the token twice).
      const { status, headers } = await flussonicCheck(deps, auth, {
        token: c.req.query("token"),
        qs: c.req.query("qs"),
        name: c.req.query("name"),
        path: c.req.path,
      });
      return c.body(null, status, headers);
    })
    .get("/auth/nginx", async (c) => {
      const { token, stream } = parseOriginalUri(c.req.header("x-original-uri"));
      const d = await auth.check(token, stream);
      if (!d.allow) return deny(c, deps, "nginx", d, 403);
      return c.body(null, 200, { "x-userid": d.userId, "x-authduration": String(d.durationS) });
    })
    .post("/auth/mediamtx", async (c) => {
      let raw: unknown;
      try {
        raw = await c.req.json();
      } catch {
        raw = undefined;
      }
      const parsed = mediaMtxBody.safeParse(raw);
      if (!parsed.success) return c.body(null, 401);
      const body = parsed.data;
      if (body.action !== "read" && body.action !== "playback") return c.body(null, 401);
      const token = body.token || tokenFromQuery(body.query) || body.password;
      const d = await auth.check(token, body.path);
      if (!d.allow) return deny(c, deps, "mediamtx", d, 401);
      return c.body(null, 200);
    });
}
