/**
 * The apps' cameras: cctv/all, cctv/camMap, cctv/overview. Every list comes with a fresh gatehouse camera
 * token for exactly the cameras listed, so /api/accessfl and /api/v1/media/auth accept it; earlier tokens
 * keep working until they expire (a later list never breaks a stream already playing).
 */
import { and, asc, eq, inArray, isNotNull } from "drizzle-orm";
import { cameras, smartyardCameras, smartyardDoors, smartyardHouseCameras } from "../../db/schema.ts";
import { signCameraToken } from "../cameras/tokens.ts";
import type { Config } from "../config.ts";
import { syncCameraGrants, userHouses } from "./access.ts";
import type { AppUser } from "./app_tokens.ts";
import { notFound } from "./errors.ts";
import type { SmartyardDeps } from "./mod.ts";
import { type Tf, tf } from "./profile.ts";

/** A camera as the apps read it (iOS APICCTV: int id, string lat/lon; `url` is the stream base). */
export interface AppCamera {
  id: number;
  name: string;
  lat: string;
  lon: string;
  url: string;
  token: string;
  serverType: string;
  hlsMode: string;
  hasSound: boolean;
}

/** A door panel's camera as the apps read it (iOS APICamMap: string id = domophoneId). */
export interface AppCamMapItem {
  id: string;
  url: string;
  token: string;
  frs: Tf;
  serverType: string;
  hlsMode: string;
}

type CameraRow = { camera: typeof cameras.$inferSelect; info: typeof smartyardCameras.$inferSelect };

/** The stream base the apps append `/index.m3u8?token=…` to: no trailing slash, no query. */
export function streamBase(config: Config, row: CameraRow): string {
  const base = row.info.dvrUrl ??
    `${config.SMARTYARD_DVR_URL ?? config.MEDIA_BASE_URL}/${encodeURIComponent(row.camera.stream)}`;
  return base.replace(/\/+$/, "");
}

async function knownHouses(sy: SmartyardDeps, user: AppUser) {
  const houses = await userHouses(sy, user, "fresh");
  const known = houses.filter((h) => h.known).map((h) => h.houseId);
  await syncCameraGrants(sy, user.userId, known);
  return { houses, known };
}

/** The cameras of the user's houses (of one house when `houseId` is given; not theirs → 404). */
export async function cameraList(
  sy: SmartyardDeps,
  user: AppUser,
  input: { houseId?: number },
): Promise<AppCamera[]> {
  const { houses, known } = await knownHouses(sy, user);
  let ids = known;
  if (input.houseId !== undefined) {
    if (!houses.some((h) => h.houseId === input.houseId)) {
      throw notFound(`House ${input.houseId} is not one of this user's addresses`, "Адрес не найден");
    }
    ids = known.filter((id) => id === input.houseId);
  }
  if (!ids.length) return [];
  const rows = await sy.db.select({ camera: cameras, info: smartyardCameras }).from(smartyardHouseCameras)
    .innerJoin(cameras, eq(cameras.id, smartyardHouseCameras.cameraId))
    .innerJoin(smartyardCameras, eq(smartyardCameras.cameraId, cameras.id))
    .where(inArray(smartyardHouseCameras.houseId, ids))
    .orderBy(asc(cameras.title), asc(smartyardCameras.id));
  const unique = [...new Map(rows.map((r) => [r.camera.id, r])).values()];
  if (!unique.length) return [];
  const { token } = await signCameraToken(sy, { ...user, cameraIds: unique.map((r) => r.camera.id) });
  return unique.map((r) => ({
    id: r.info.id,
    name: r.camera.title,
    lat: r.info.lat,
    lon: r.info.lon,
    url: streamBase(sy.config, r),
    token,
    serverType: r.info.serverType ?? sy.config.SMARTYARD_SERVER_TYPE,
    hlsMode: r.info.hlsMode ?? sy.config.SMARTYARD_HLS_MODE,
    hasSound: r.info.hasSound,
  }));
}

/** The cameras of the door panels at the user's houses, one per panel. */
export async function camMap(sy: SmartyardDeps, user: AppUser): Promise<AppCamMapItem[]> {
  const { known } = await knownHouses(sy, user);
  if (!known.length) return [];
  const rows = await sy.db.select({ door: smartyardDoors, camera: cameras, info: smartyardCameras })
    .from(smartyardDoors)
    .innerJoin(cameras, eq(cameras.id, smartyardDoors.cameraId))
    .innerJoin(smartyardCameras, eq(smartyardCameras.cameraId, cameras.id))
    .where(and(inArray(smartyardDoors.houseId, known), isNotNull(smartyardDoors.cameraId)))
    .orderBy(asc(smartyardDoors.domophoneId), asc(smartyardDoors.doorId));
  const byPanel = [...new Map(rows.map((r) => [r.door.domophoneId, r])).values()];
  if (!byPanel.length) return [];
  const cameraIds = [...new Set(byPanel.map((r) => r.camera.id))];
  const { token } = await signCameraToken(sy, { ...user, cameraIds });
  return byPanel.map((r) => ({
    id: String(r.door.domophoneId),
    url: streamBase(sy.config, r),
    token,
    frs: tf(false),
    serverType: r.info.serverType ?? sy.config.SMARTYARD_SERVER_TYPE,
    hlsMode: r.info.hlsMode ?? sy.config.SMARTYARD_HLS_MODE,
  }));
}
