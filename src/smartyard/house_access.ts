/** What a house gives its residents, set up by admins: its cameras (with the apps' camera settings) and residents. */
import { and, asc, eq, getTableColumns, sql } from "drizzle-orm";
import { cameras, smartyardAddressGrants, smartyardCameras, smartyardHouseCameras } from "../../db/schema.ts";
import { getCamera } from "../cameras/cameras.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { phonesOfHouse, resyncPhones } from "./access.ts";
import { getHouse } from "./houses.ts";
import type { SmartyardDeps } from "./mod.ts";

/** A camera of a house, with how the apps show it (`app_id` is the apps' numeric camera id). */
export interface HouseCamera {
  camera_id: string;
  app_id: number;
  stream: string;
  title: string;
  lat: string;
  lon: string;
  server_type: string | null;
  hls_mode: string | null;
  dvr_url: string | null;
  has_sound: boolean;
}

/** How the apps show a camera; lat/lon are needed the first time a camera is attached anywhere. */
export interface CameraSettings {
  lat?: string;
  lon?: string;
  server_type?: string | null;
  hls_mode?: string | null;
  dvr_url?: string | null;
  has_sound?: boolean;
}

/** A phone number an admin gave a house to. */
export interface Resident {
  house_id: number;
  phone: string;
  flat: string | null;
  granted_at: string;
}

/** The cameras of a house, by title. */
export async function listHouseCameras(deps: Pick<Deps, "db">, houseId: number): Promise<HouseCamera[]> {
  const rows = await deps.db.select({ camera: cameras, info: smartyardCameras }).from(smartyardHouseCameras)
    .innerJoin(cameras, eq(cameras.id, smartyardHouseCameras.cameraId))
    .innerJoin(smartyardCameras, eq(smartyardCameras.cameraId, smartyardHouseCameras.cameraId))
    .where(eq(smartyardHouseCameras.houseId, houseId))
    .orderBy(asc(cameras.title), asc(cameras.stream));
  return rows.map(({ camera, info }) => ({
    camera_id: camera.id,
    app_id: info.id,
    stream: camera.stream,
    title: camera.title,
    lat: info.lat,
    lon: info.lon,
    server_type: info.serverType,
    hls_mode: info.hlsMode,
    dvr_url: info.dvrUrl,
    has_sound: info.hasSound,
  }));
}

/** Gives a house a camera (or changes its settings); its residents may watch it from their next camera list. */
export async function attachCamera(
  sy: SmartyardDeps,
  houseId: number,
  cameraId: string,
  settings: CameraSettings,
): Promise<{ camera: HouseCamera; created: boolean }> {
  await getHouse(sy, houseId);
  await getCamera(sy, cameraId);
  const now = sy.clock.now();
  const set: Partial<typeof smartyardCameras.$inferInsert> = { updatedAt: now };
  if (settings.lat !== undefined) set.lat = settings.lat;
  if (settings.lon !== undefined) set.lon = settings.lon;
  if (settings.server_type !== undefined) set.serverType = settings.server_type;
  if (settings.hls_mode !== undefined) set.hlsMode = settings.hls_mode;
  if (settings.dvr_url !== undefined) set.dvrUrl = settings.dvr_url;
  if (settings.has_sound !== undefined) set.hasSound = settings.has_sound;
  const updated = await sy.db.update(smartyardCameras).set(set).where(eq(smartyardCameras.cameraId, cameraId))
    .returning({ id: smartyardCameras.id });
  if (!updated.length) {
    if (settings.lat === undefined || settings.lon === undefined) {
      const missing = (["lat", "lon"] as const).filter((k) => settings[k] === undefined);
      throw new ValidationError(missing.map((field) => ({
        field,
        message: "is required the first time a camera is given to a house (the apps' map)",
      })));
    }
    await sy.db.insert(smartyardCameras).values({
      ...set,
      cameraId,
      lat: settings.lat,
      lon: settings.lon,
      updatedAt: now,
    })
      .onConflictDoUpdate({ target: smartyardCameras.cameraId, set });
  }
  const linked = await sy.db.insert(smartyardHouseCameras).values({ houseId, cameraId, createdAt: now })
    .onConflictDoNothing().returning({ id: smartyardHouseCameras.cameraId });
  if (linked.length) await resyncPhones(sy, await phonesOfHouse(sy, houseId));
  const camera = (await listHouseCameras(sy, houseId)).find((c) => c.camera_id === cameraId)!;
  return { camera, created: linked.length > 0 };
}

/** Takes a camera from a house; residents who had it only through this house lose it. */
export async function detachCamera(sy: SmartyardDeps, houseId: number, cameraId: string): Promise<void> {
  const rows = await sy.db.delete(smartyardHouseCameras)
    .where(and(eq(smartyardHouseCameras.houseId, houseId), eq(smartyardHouseCameras.cameraId, cameraId)))
    .returning({ id: smartyardHouseCameras.cameraId });
  if (!rows.length) throw new NotFoundError("This house has no such camera");
  await resyncPhones(sy, await phonesOfHouse(sy, houseId));
}

function toResident(row: typeof smartyardAddressGrants.$inferSelect): Resident {
  return { house_id: row.houseId, phone: row.phone, flat: row.flat, granted_at: row.createdAt.toISOString() };
}

/** The phones an admin gave this house to. */
export async function listResidents(deps: Pick<Deps, "db">, houseId: number): Promise<Resident[]> {
  const rows = await deps.db.select().from(smartyardAddressGrants).where(
    eq(smartyardAddressGrants.houseId, houseId),
  )
    .orderBy(asc(smartyardAddressGrants.phone));
  return rows.map(toResident);
}

/** Gives a house to a phone number (besides billing); idempotent, `created` says whether it is new. */
export async function grantAddress(
  sy: SmartyardDeps,
  houseId: number,
  input: { phone: string; flat?: string | null },
): Promise<{ resident: Resident; created: boolean }> {
  await getHouse(sy, houseId);
  const [row] = await sy.db.insert(smartyardAddressGrants)
    .values({ phone: input.phone, houseId, flat: input.flat ?? null, createdAt: sy.clock.now() })
    .onConflictDoUpdate({
      target: [smartyardAddressGrants.phone, smartyardAddressGrants.houseId],
      // a repeat keeps the flat unless one is given
      set: input.flat === undefined ? { phone: input.phone } : { flat: input.flat },
    })
    // xmax is 0 only in a row this statement inserted (Postgres' insert-or-update tell)
    .returning({ ...getTableColumns(smartyardAddressGrants), created: sql<boolean>`xmax = 0` });
  const { created, ...grant } = row;
  if (created) await resyncPhones(sy, [input.phone]);
  return { resident: toResident(grant), created };
}

/** Takes a house from a phone number (billing's addresses are billing's to change). */
export async function revokeAddress(sy: SmartyardDeps, houseId: number, phone: string): Promise<void> {
  const [gone] = await sy.db.delete(smartyardAddressGrants)
    .where(and(eq(smartyardAddressGrants.phone, phone), eq(smartyardAddressGrants.houseId, houseId)))
    .returning();
  if (!gone) throw new NotFoundError("This phone has no grant to this house");
  await resyncPhones(sy, [phone]);
}
