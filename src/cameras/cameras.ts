/** Cameras, who may watch them (grants), and each viewer's concurrent-session limit. */
import { and, asc, eq } from "drizzle-orm";
import { cameraGrants, cameras, cameraViewers, users } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { ConflictError, NotFoundError } from "../errors.ts";

/**
 * A stream name as media servers use it: the first path segment of the play URL
 * (`/<stream>/index.m3u8`), so only URL-unreserved characters, and never `.` or `..`.
 */
export const STREAM_NAME = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$/;

/** A camera as the API shows it. */
export interface Camera {
  id: string;
  stream: string;
  title: string;
  location: string | null;
  created_at: string;
  updated_at: string;
}

/** One user's access to one camera. */
export interface Grant {
  camera_id: string;
  user_id: string;
  granted_at: string;
}

/** A user's session limit: their own when set, else CAMERA_MAX_SESSIONS. */
export interface ViewerLimit {
  user_id: string;
  /** 0 = unlimited. */
  max_sessions: number;
  /** True when the user has no limit of their own and CAMERA_MAX_SESSIONS applies. */
  is_default: boolean;
}

type CameraDeps = Pick<Deps, "db" | "clock" | "events">;
type Row = typeof cameras.$inferSelect;

function toCamera({ createdAt, updatedAt, ...fields }: Row): Camera {
  return { ...fields, created_at: createdAt.toISOString(), updated_at: updatedAt.toISOString() };
}

function duplicateStream(stream: string) {
  return new ConflictError(`A camera with stream name "${stream}" already exists`, { stream });
}

/** True when `err` (or an error it wraps) is a Postgres unique violation. */
function isUniqueViolation(err: unknown): boolean {
  let e = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Adds a camera; a stream name already in use is a 409. */
export async function createCamera(
  deps: CameraDeps,
  input: { stream: string; title: string; location?: string | null },
): Promise<Camera> {
  const now = deps.clock.now();
  const [row] = await deps.db.insert(cameras).values({
    stream: input.stream,
    title: input.title,
    location: input.location ?? null,
    createdAt: now,
    updatedAt: now,
  }).onConflictDoNothing({ target: cameras.stream }).returning();
  if (!row) throw duplicateStream(input.stream);
  deps.events.emit("camera.created", { camera_id: row.id, stream: row.stream }, now);
  return toCamera(row);
}

/** All cameras, by stream name. */
export async function listCameras(
  deps: Pick<Deps, "db">,
  page: { limit: number; offset: number },
): Promise<Camera[]> {
  const rows = await deps.db.select().from(cameras).orderBy(asc(cameras.stream)).limit(page.limit)
    .offset(page.offset);
  return rows.map(toCamera);
}

/** The camera with this id, or a 404. */
export async function getCamera(deps: Pick<Deps, "db">, id: string): Promise<Camera> {
  const [row] = await deps.db.select().from(cameras).where(eq(cameras.id, id));
  if (!row) throw new NotFoundError("No camera with this id");
  return toCamera(row);
}

/** Changes a camera's stream name, title or location; renaming onto a used stream name is a 409. */
export async function updateCamera(
  deps: CameraDeps,
  id: string,
  patch: { stream?: string; title?: string; location?: string | null },
): Promise<Camera> {
  const now = deps.clock.now();
  let row: Row | undefined;
  try {
    [row] = await deps.db.update(cameras).set({ ...patch, updatedAt: now }).where(eq(cameras.id, id))
      .returning();
  } catch (err) {
    if (patch.stream !== undefined && isUniqueViolation(err)) throw duplicateStream(patch.stream);
    throw err;
  }
  if (!row) throw new NotFoundError("No camera with this id");
  deps.events.emit("camera.updated", { camera_id: row.id, stream: row.stream }, now);
  return toCamera(row);
}

/** Deletes a camera and every grant to it. */
export async function deleteCamera(deps: CameraDeps, id: string): Promise<void> {
  const rows = await deps.db.delete(cameras).where(eq(cameras.id, id)).returning({ stream: cameras.stream });
  if (!rows.length) throw new NotFoundError("No camera with this id");
  deps.events.emit("camera.deleted", { camera_id: id, stream: rows[0].stream });
}

/** Lets `userId` watch `cameraId`; idempotent (`created` says whether the grant is new). */
export async function grantCamera(
  deps: CameraDeps,
  cameraId: string,
  userId: string,
): Promise<{ grant: Grant; created: boolean }> {
  await getCamera(deps, cameraId);
  const [user] = await deps.db.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!user) throw new NotFoundError("No user with this id");
  const now = deps.clock.now();
  const [inserted] = await deps.db.insert(cameraGrants).values({ cameraId, userId, createdAt: now })
    .onConflictDoNothing().returning();
  if (inserted) {
    deps.events.emit("camera.granted", { camera_id: cameraId, user_id: userId }, now);
    return { grant: toGrant(inserted), created: true };
  }
  const [existing] = await deps.db.select().from(cameraGrants)
    .where(and(eq(cameraGrants.cameraId, cameraId), eq(cameraGrants.userId, userId)));
  if (!existing) throw new NotFoundError("The camera or the user was deleted meanwhile");
  return { grant: toGrant(existing), created: false };
}

/** Takes `cameraId` away from `userId`; their camera tokens stop working for it at the next check. */
export async function revokeGrant(deps: CameraDeps, cameraId: string, userId: string): Promise<void> {
  const rows = await deps.db.delete(cameraGrants)
    .where(and(eq(cameraGrants.cameraId, cameraId), eq(cameraGrants.userId, userId)))
    .returning({ userId: cameraGrants.userId });
  if (!rows.length) throw new NotFoundError("This user has no access to this camera");
  deps.events.emit("camera.grant_revoked", { camera_id: cameraId, user_id: userId });
}

/** The users who may watch a camera. */
export async function listGrants(deps: Pick<Deps, "db">, cameraId: string): Promise<Grant[]> {
  await getCamera(deps, cameraId);
  const rows = await deps.db.select().from(cameraGrants).where(eq(cameraGrants.cameraId, cameraId))
    .orderBy(asc(cameraGrants.createdAt), asc(cameraGrants.userId));
  return rows.map(toGrant);
}

/** The cameras `userId` may watch, by title. */
export async function userCameras(deps: Pick<Deps, "db">, userId: string): Promise<Camera[]> {
  const rows = await deps.db.select({ camera: cameras }).from(cameraGrants)
    .innerJoin(cameras, eq(cameras.id, cameraGrants.cameraId))
    .where(eq(cameraGrants.userId, userId))
    .orderBy(asc(cameras.title), asc(cameras.stream));
  return rows.map((r) => toCamera(r.camera));
}

/** A user's concurrent-session limit (their own, or CAMERA_MAX_SESSIONS). */
export async function getViewerLimit(
  deps: Pick<Deps, "db" | "config">,
  userId: string,
): Promise<ViewerLimit> {
  const [user] = await deps.db.select({ id: users.id, max: cameraViewers.maxSessions }).from(users)
    .leftJoin(cameraViewers, eq(cameraViewers.userId, users.id)).where(eq(users.id, userId));
  if (!user) throw new NotFoundError("No user with this id");
  return user.max === null
    ? { user_id: userId, max_sessions: deps.config.CAMERA_MAX_SESSIONS, is_default: true }
    : { user_id: userId, max_sessions: user.max, is_default: false };
}

/** Sets a user's own limit (0 = unlimited), or with `null` returns them to CAMERA_MAX_SESSIONS. */
export async function setViewerLimit(
  deps: Pick<Deps, "db" | "config" | "clock" | "events">,
  userId: string,
  maxSessions: number | null,
): Promise<ViewerLimit> {
  const [user] = await deps.db.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!user) throw new NotFoundError("No user with this id");
  const now = deps.clock.now();
  if (maxSessions === null) {
    await deps.db.delete(cameraViewers).where(eq(cameraViewers.userId, userId));
  } else {
    await deps.db.insert(cameraViewers).values({ userId, maxSessions, updatedAt: now })
      .onConflictDoUpdate({ target: cameraViewers.userId, set: { maxSessions, updatedAt: now } });
  }
  deps.events.emit("camera.viewer_updated", { user_id: userId, max_sessions: maxSessions }, now);
  return await getViewerLimit(deps, userId);
}

function toGrant(row: typeof cameraGrants.$inferSelect): Grant {
  return { camera_id: row.cameraId, user_id: row.userId, granted_at: row.createdAt.toISOString() };
}
