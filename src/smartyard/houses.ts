/** Houses and their doors, set up by admins (the apps' addresses are these, by billing's house number). */
import { and, asc, eq } from "drizzle-orm";
import { cameras, smartyardDoors, smartyardHouses } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { phonesOfHouse, resyncPhones } from "./access.ts";
import { doorUrlProblem } from "./door_urls.ts";
import type { SmartyardDeps } from "./mod.ts";

/** The door icons the apps know (iOS rejects any other). */
export const DOOR_ICONS = ["entrance", "wicket", "gate", "barrier"] as const;

/** A house as admins see it. */
export interface House {
  id: number;
  address: string;
  created_at: string;
  updated_at: string;
}

/** A door as admins see it. */
export interface Door {
  id: string;
  house_id: number;
  domophone_id: number;
  door_id: number;
  entrance: string | null;
  icon: (typeof DOOR_ICONS)[number];
  name: string;
  open_url: string;
  camera_id: string | null;
}

/** The fields of a new door. */
export interface DoorInput {
  domophone_id: number;
  door_id: number;
  entrance?: string | null;
  icon: Door["icon"];
  name: string;
  open_url: string;
  camera_id?: string | null;
}

function toHouse(row: typeof smartyardHouses.$inferSelect): House {
  return {
    id: row.id,
    address: row.address,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toDoor(row: typeof smartyardDoors.$inferSelect): Door {
  return {
    id: row.id,
    house_id: row.houseId,
    domophone_id: row.domophoneId,
    door_id: row.doorId,
    entrance: row.entrance,
    icon: row.icon as Door["icon"],
    name: row.name,
    open_url: row.openUrl,
    camera_id: row.cameraId,
  };
}

/** Adds a house under billing's number `id`; a number already used is a 409. */
export async function createHouse(deps: Pick<Deps, "db" | "clock">, input: { id: number; address: string }) {
  const now = deps.clock.now();
  const [row] = await deps.db.insert(smartyardHouses).values({ ...input, createdAt: now, updatedAt: now })
    .onConflictDoNothing().returning();
  if (!row) throw new ConflictError(`House ${input.id} already exists`, { id: input.id });
  return toHouse(row);
}

/** All houses, by number. */
export async function listHouses(deps: Pick<Deps, "db">, page: { limit: number; offset: number }) {
  const rows = await deps.db.select().from(smartyardHouses).orderBy(asc(smartyardHouses.id))
    .limit(page.limit).offset(page.offset);
  return rows.map(toHouse);
}

/** The house `id`, or a 404. */
export async function getHouse(deps: Pick<Deps, "db">, id: number): Promise<House> {
  const [row] = await deps.db.select().from(smartyardHouses).where(eq(smartyardHouses.id, id));
  if (!row) throw new NotFoundError(`No house ${id}`);
  return toHouse(row);
}

/** Changes a house's address. */
export async function updateHouse(deps: Pick<Deps, "db" | "clock">, id: number, patch: { address: string }) {
  const [row] = await deps.db.update(smartyardHouses).set({ ...patch, updatedAt: deps.clock.now() })
    .where(eq(smartyardHouses.id, id)).returning();
  if (!row) throw new NotFoundError(`No house ${id}`);
  return toHouse(row);
}

/** Deletes a house with its doors, cameras links and grants; its residents lose its cameras. */
export async function deleteHouse(sy: SmartyardDeps, id: number): Promise<void> {
  const phones = await phonesOfHouse(sy, id);
  const rows = await sy.db.delete(smartyardHouses).where(eq(smartyardHouses.id, id))
    .returning({ id: smartyardHouses.id });
  if (!rows.length) throw new NotFoundError(`No house ${id}`);
  await resyncPhones(sy, phones);
}

/** The doors of a house, by panel and door number. */
export async function listDoors(deps: Pick<Deps, "db">, houseId: number): Promise<Door[]> {
  const rows = await deps.db.select().from(smartyardDoors).where(eq(smartyardDoors.houseId, houseId))
    .orderBy(asc(smartyardDoors.domophoneId), asc(smartyardDoors.doorId));
  return rows.map(toDoor);
}

async function checkDoorFields(
  deps: Pick<Deps, "db" | "config">,
  input: { open_url?: string; camera_id?: string | null },
): Promise<void> {
  if (input.open_url !== undefined) {
    const problem = doorUrlProblem(deps.config, input.open_url);
    if (problem) throw new ValidationError([{ field: "open_url", message: problem }]);
  }
  if (input.camera_id) {
    const [cam] = await deps.db.select({ id: cameras.id }).from(cameras).where(
      eq(cameras.id, input.camera_id),
    );
    if (!cam) throw new ValidationError([{ field: "camera_id", message: "No camera with this id" }]);
  }
}

/** Adds a door to a house; the same panel door twice in one house is a 409. */
export async function addDoor(sy: SmartyardDeps, houseId: number, input: DoorInput): Promise<Door> {
  await getHouse(sy, houseId);
  await checkDoorFields(sy, input);
  const now = sy.clock.now();
  const [row] = await sy.db.insert(smartyardDoors).values({
    houseId,
    domophoneId: input.domophone_id,
    doorId: input.door_id,
    entrance: input.entrance ?? null,
    icon: input.icon,
    name: input.name,
    openUrl: input.open_url,
    cameraId: input.camera_id ?? null,
    createdAt: now,
    updatedAt: now,
  }).onConflictDoNothing().returning();
  if (!row) {
    throw new ConflictError(
      `House ${houseId} already has door ${input.door_id} of panel ${input.domophone_id}`,
    );
  }
  if (row.cameraId) await resyncPhones(sy, await phonesOfHouse(sy, houseId));
  return toDoor(row);
}

/** Changes a door's label, icon, URL or camera (panel and door numbers are its identity: delete and add). */
export async function updateDoor(
  sy: SmartyardDeps,
  id: string,
  patch: Partial<Pick<DoorInput, "entrance" | "icon" | "name" | "open_url" | "camera_id">>,
): Promise<Door> {
  await checkDoorFields(sy, patch);
  const set: Partial<typeof smartyardDoors.$inferInsert> = { updatedAt: sy.clock.now() };
  if (patch.entrance !== undefined) set.entrance = patch.entrance;
  if (patch.icon !== undefined) set.icon = patch.icon;
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.open_url !== undefined) set.openUrl = patch.open_url;
  if (patch.camera_id !== undefined) set.cameraId = patch.camera_id;
  const [row] = await sy.db.update(smartyardDoors).set(set).where(eq(smartyardDoors.id, id)).returning();
  if (!row) throw new NotFoundError("No door with this id");
  if (patch.camera_id !== undefined) await resyncPhones(sy, await phonesOfHouse(sy, row.houseId));
  return toDoor(row);
}

/** Deletes a door. */
export async function deleteDoor(sy: SmartyardDeps, id: string): Promise<void> {
  const rows = await sy.db.delete(smartyardDoors).where(eq(smartyardDoors.id, id)).returning();
  if (!rows.length) throw new NotFoundError("No door with this id");
  if (rows[0].cameraId) await resyncPhones(sy, await phonesOfHouse(sy, rows[0].houseId));
}

/** The door `doorId` of panel `domophoneId` in one of `houseIds`, if any (the apps name doors by panel). */
export async function findDoor(
  deps: Pick<Deps, "db">,
  houseIds: number[],
  door: { domophoneId: number; doorId: number },
) {
  const rows = await deps.db.select().from(smartyardDoors).where(and(
    eq(smartyardDoors.domophoneId, door.domophoneId),
    eq(smartyardDoors.doorId, door.doorId),
  ));
  return rows.find((r) => houseIds.includes(r.houseId));
}
