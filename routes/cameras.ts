/**
 * Cameras (mounted at /api/v1): admins manage cameras, grants (/cameras/…) and users' session limits
 * (/camera-viewers/…) with an API key; users list their cameras with a fresh camera token, and renew it.
 * (Viewer limits are not under /cameras/ so that no path matches two routes: Hono's RegExpRouter then
 * stays in use, and the media-auth hot path keeps the faster router.)
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import {
  createCamera,
  deleteCamera,
  getCamera,
  getViewerLimit,
  grantCamera,
  listCameras,
  listGrants,
  revokeGrant,
  setViewerLimit,
  STREAM_NAME,
  updateCamera,
} from "../src/cameras/cameras.ts";
import { cameraListWithToken, renewCameraToken } from "../src/cameras/tokens.ts";
import type { Deps } from "../src/deps.ts";
import { type AppEnv, validate } from "../src/http.ts";

const stream = z.string().regex(
  STREAM_NAME,
  "must be 1 to 128 letters, digits or . _ ~ - and not start with a dot",
);
const title = z.string().trim().min(1).max(200);
const location = z.string().trim().max(500).nullable();

/** The body of POST /api/v1/cameras. */
export const cameraCreateBody = z.object({ stream, title, location: location.optional() });
/** The body of PATCH /api/v1/cameras/:id: at least one field. */
export const cameraPatchBody = z.object({ stream, title, location }).partial().refine(
  (b) => Object.keys(b).length > 0,
  "give at least one of stream, title, location",
);
/** The body of PUT /api/v1/camera-viewers/:user_id (null: back to CAMERA_MAX_SESSIONS). */
export const viewerLimitBody = z.object({ max_sessions: z.number().int().min(0).max(100_000).nullable() });

const idParam = z.object({ id: z.uuid() });
const grantParams = z.object({ id: z.uuid(), user_id: z.uuid() });
const userParam = z.object({ user_id: z.uuid() });
const page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Camera routes; see the README's "Cameras and media auth" section. */
export function cameraRoutes(deps: Deps) {
  const adminOnly = requireAuth(deps, ["admin"]);
  const cameraId = validate("param", idParam);
  const viewerId = validate("param", userParam);
  const userOnly = requireAuth(deps, ["user"]);
  return new Hono<AppEnv>()
    // A user gets their cameras and a new token; an admin (API key) gets every camera, and no token.
    .get("/cameras", requireAuth(deps, ["admin", "user"]), validate("query", page), async (c) => {
      const p = c.get("principal");
      if (p.kind === "admin") return c.json({ cameras: await listCameras(deps, c.req.valid("query")) });
      return c.json(await cameraListWithToken(deps, p));
    })
    .post("/cameras", adminOnly, validate("json", cameraCreateBody), async (c) => {
      return c.json(await createCamera(deps, c.req.valid("json")), 201);
    })
    .post("/cameras/token", userOnly, async (c) => {
      const p = c.get("principal");
      if (p.kind !== "user") throw new Error("unreachable: userOnly let a non-user through");
      return c.json(await renewCameraToken(deps, p));
    })
    .get("/camera-viewers/:user_id", adminOnly, viewerId, async (c) => {
      return c.json(await getViewerLimit(deps, c.req.valid("param").user_id));
    })
    .put("/camera-viewers/:user_id", adminOnly, viewerId, validate("json", viewerLimitBody), async (c) => {
      const { user_id } = c.req.valid("param");
      return c.json(await setViewerLimit(deps, user_id, c.req.valid("json").max_sessions));
    })
    .get("/cameras/:id", adminOnly, cameraId, async (c) => {
      return c.json(await getCamera(deps, c.req.valid("param").id));
    })
    .patch("/cameras/:id", adminOnly, cameraId, validate("json", cameraPatchBody), async (c) => {
      return c.json(await updateCamera(deps, c.req.valid("param").id, c.req.valid("json")));
    })
    .delete("/cameras/:id", adminOnly, cameraId, async (c) => {
      await deleteCamera(deps, c.req.valid("param").id);
      return c.body(null, 204);
    })
    .get("/cameras/:id/users", adminOnly, cameraId, async (c) => {
      return c.json({ users: await listGrants(deps, c.req.valid("param").id) });
    })
    .put("/cameras/:id/users/:user_id", adminOnly, validate("param", grantParams), async (c) => {
      const { id, user_id } = c.req.valid("param");
      const { grant, created } = await grantCamera(deps, id, user_id);
      return c.json(grant, created ? 201 : 200);
    })
    .delete("/cameras/:id/users/:user_id", adminOnly, validate("param", grantParams), async (c) => {
      const { id, user_id } = c.req.valid("param");
      await revokeGrant(deps, id, user_id);
      return c.body(null, 204);
    });
}
