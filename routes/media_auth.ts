/**
 * The auth backend media servers call (no API key; the camera token is the credential):
 * - GET  /api/v1/media/auth           Flussonic `auth`/`on_play` (and the legacy GET /api/accessfl);
 * - GET  /api/v1/media/auth/nginx     nginx `auth_request`, reading X-Original-URI;
 * - POST /api/v1/media/auth/mediamtx  MediaMTX `authMethod: http`.
 * A deny is 403 (401 for MediaMTX) with an empty body, never a 5xx: Flussonic keeps its previous
 * decision on a 5xx. Tokens ride in query strings, which the request logger never writes.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { CameraAuth, MediaAuthDecision } from "../src/cameras/media_auth.ts";
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

/** Answers a Flussonic play check (GET with `name`, `token`, `proto`, `request_type`, … in the query). */
function flussonic(deps: Pick<Deps, "log">, auth: CameraAuth) {
  return async (c: Context<AppEnv>) => {
    // Only the two parameters needed are read (the query carries a dozen, and the token twice).
    // Flussonic passes the play URL's `?token=` as `token`; older setups only forward the whole `qs`.
    const token = c.req.query("token") || tokenFromQuery(c.req.query("qs"));
    const d = await auth.check(token, c.req.query("name"));
    if (!d.allow) return deny(c, deps, "flussonic", d, 403);
    const headers: Record<string, string> = {
      "x-authduration": String(d.durationS),
      "x-userid": d.userId,
    };
    if (d.maxSessions > 0) headers["x-max-sessions"] = String(d.maxSessions);
    return c.body(null, 200, headers);
  };
}

/** Media-auth routes, mounted at /api/v1/media. */
export function mediaAuthRoutes(deps: Pick<Deps, "log">, auth: CameraAuth) {
  return new Hono<AppEnv>()
    .get("/auth", flussonic(deps, auth))
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

/** The legacy Flussonic backend of the old SmartYard server: GET /api/accessfl (mounted at /api). */
export function legacyMediaAuthRoutes(deps: Pick<Deps, "log">, auth: CameraAuth) {
  return new Hono<AppEnv>().get("/accessfl", flussonic(deps, auth));
}

/** The `token` parameter of a raw query string (with or without the leading `?`). */
function tokenFromQuery(query: string | undefined): string | undefined {
  if (!query) return undefined;
  return new URLSearchParams(query.startsWith("?") ? query.slice(1) : query).get("token") ?? undefined;
}

/** Token and stream from nginx's X-Original-URI (`/<stream>/index.m3u8?token=…`); missing parts stay empty. */
export function parseOriginalUri(uri: string | undefined): { token?: string; stream?: string } {
  if (!uri || !uri.startsWith("/")) return {};
  const q = uri.indexOf("?");
  const path = q < 0 ? uri : uri.slice(0, q);
  const token = q < 0 ? undefined : tokenFromQuery(uri.slice(q + 1));
  const first = path.split("/")[1];
  let stream: string | undefined;
  try {
    stream = first ? decodeURIComponent(first) : undefined;
  } catch {
    stream = undefined; // malformed percent-encoding: no stream, so a deny
  }
  return { token, stream };
}
