/** The apps' addresses: address/getAddressList, address/getSettingsList and address/openDoor. */
import { inArray } from "drizzle-orm";
import { smartyardDoors, smartyardHouseCameras } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { syncCameraGrants, type UserHouse, userHouses } from "./access.ts";
import type { AppUser } from "./app_tokens.ts";
import { billingContracts } from "./billing_cache.ts";
import { doorRequest } from "./door_urls.ts";
import { fetchFailure, notFound, UpstreamError } from "./errors.ts";
import { findDoor } from "./houses.ts";
import type { SmartyardDeps } from "./mod.ts";
import { type Tf, tf } from "./profile.ts";

/** A door as the apps read it (iOS APIDoor: string domophoneId, int doorId, a known icon). */
export interface AppDoor {
  domophoneId: string;
  doorId: number;
  entrance?: string;
  icon: string;
  name: string;
}

/** An address as the apps read it (iOS APIAddress: string houseId, "t"/"f" hasPlog). */
export interface AppAddress {
  houseId: string;
  address: string;
  cctv: number;
  hasPlog: Tf;
  doors: AppDoor[];
}

/** A row of address/getSettingsList (iOS APISettingsAddress). */
export interface AppSettingsAddress {
  address: string;
  services: string[];
  houseId?: string;
  flatNumber?: string;
  clientId?: string;
  contractName?: string;
  contractOwner?: Tf;
  hasGates: Tf;
  hasPlog: Tf;
  roommates: never[];
}

type DoorRow = typeof smartyardDoors.$inferSelect;

async function doorsAndCameras(deps: Pick<Deps, "db">, houses: UserHouse[]) {
  const ids = houses.filter((h) => h.known).map((h) => h.houseId);
  const doors = ids.length
    ? await deps.db.select().from(smartyardDoors).where(inArray(smartyardDoors.houseId, ids))
    : [];
  const cams = ids.length
    ? await deps.db.select().from(smartyardHouseCameras).where(inArray(smartyardHouseCameras.houseId, ids))
    : [];
  const doorsOf = (id: number) =>
    doors.filter((d) => d.houseId === id).sort((a, b) =>
      a.domophoneId - b.domophoneId || a.doorId - b.doorId
    );
  const camerasOf = (id: number) => cams.filter((c) => c.houseId === id).length;
  return { ids, doorsOf, camerasOf };
}

function toAppDoor(d: DoorRow): AppDoor {
  const door: AppDoor = { domophoneId: String(d.domophoneId), doorId: d.doorId, icon: d.icon, name: d.name };
  if (d.entrance) door.entrance = d.entrance;
  return door;
}

/** The user's addresses with doors and camera counts, asking billing live (its last answer if it is down). */
export async function addressList(sy: SmartyardDeps, user: AppUser): Promise<AppAddress[]> {
  const houses = await userHouses(sy, user, "live");
  const { ids, doorsOf, camerasOf } = await doorsAndCameras(sy, houses);
  await syncCameraGrants(sy, user.userId, ids);
  return houses.map((h) => ({
    houseId: String(h.houseId),
    address: h.address,
    cctv: camerasOf(h.houseId),
    hasPlog: "f",
    doors: doorsOf(h.houseId).map(toAppDoor),
  }));
}

/** One row per contract at each address (one without contract fields where billing has none). */
export async function settingsList(sy: SmartyardDeps, user: AppUser): Promise<AppSettingsAddress[]> {
  const houses = await userHouses(sy, user, "live");
  const contracts = await billingContracts(sy, user.phone, "live");
  const { doorsOf, camerasOf } = await doorsAndCameras(sy, houses);
  const rows: AppSettingsAddress[] = [];
  for (const h of houses) {
    const doors = doorsOf(h.houseId);
    const own: string[] = [];
    if (doors.length) own.push("domophone");
    if (camerasOf(h.houseId)) own.push("cctv");
    const base = {
      address: h.address,
      houseId: String(h.houseId),
      hasGates: tf(doors.some((d) => d.icon === "gate" || d.icon === "barrier")),
      hasPlog: "f" as const,
      roommates: [] as never[],
      ...(h.flat ? { flatNumber: h.flat } : {}),
    };
    const mine = contracts.filter((c) => c.houseId === h.houseId);
    if (!mine.length) rows.push({ ...base, services: own });
    for (const c of mine) {
      rows.push({
        ...base,
        services: [...new Set([...c.services, ...own])],
        clientId: c.clientId,
        contractName: c.contractName,
        contractOwner: "t",
      });
    }
  }
  const listed = new Set(houses.map((h) => h.houseId));
  for (const c of contracts.filter((c) => c.houseId === null || !listed.has(c.houseId))) {
    rows.push({
      address: c.address,
      services: c.services,
      ...(c.houseId !== null ? { houseId: String(c.houseId) } : {}),
      clientId: c.clientId,
      contractName: c.contractName,
      contractOwner: "t",
      hasGates: "f",
      hasPlog: "f",
      roommates: [],
    });
  }
  return rows;
}

/** Opens a door of one of the user's houses with the panel's HTTP GET; a panel that fails or hangs is a 502. */
export async function openDoor(
  sy: SmartyardDeps,
  user: AppUser,
  input: { domophoneId: number; doorId: number },
): Promise<void> {
  let houses: UserHouse[];
  let outage: UpstreamError | undefined;
  try {
    houses = await userHouses(sy, user, "fresh");
  } catch (err) {
    // billing down and nothing cached: an admin's grant still opens its doors
    if (!(err instanceof UpstreamError)) throw err;
    outage = err;
    houses = await userHouses(sy, user, "cache");
  }
  const door = await findDoor(sy, houses.filter((h) => h.known).map((h) => h.houseId), input);
  if (!door) {
    throw outage ?? notFound(
      `No door ${input.doorId} of panel ${input.domophoneId} at this user's addresses`,
      "Дверь не найдена",
    );
  }
  const req = doorRequest(sy.config, door.openUrl, door);
  let res: Response;
  try {
    res = await fetch(req.url, {
      headers: req.headers,
      signal: AbortSignal.timeout(sy.config.SMARTYARD_DOOR_TIMEOUT_MS),
    });
    await res.body?.cancel();
  } catch (err) {
    throw new UpstreamError("door panel", `${input.domophoneId} ${fetchFailure(err)}`, 5);
  }
  if (!res.ok) throw new UpstreamError("door panel", `${input.domophoneId} answered HTTP ${res.status}`, 5);
  sy.events.emit("smartyard.door_opened", {
    user_id: user.userId,
    house_id: door.houseId,
    domophone_id: door.domophoneId,
    door_id: door.doorId,
  });
}
