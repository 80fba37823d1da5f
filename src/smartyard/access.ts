/**
 * Which houses a user may use (billing's addresses for their phone, plus admins' grants), and the camera
 * grants that follow from them. House cameras reach the media-auth check as ordinary camera grants, made and
 * taken back here; grants an admin made through /api/v1/cameras are never touched.
 */
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import {
  cameraGrants,
  smartyardAddressGrants,
  smartyardCameraGrants,
  smartyardDoors,
  smartyardHouseCameras,
  smartyardHouses,
  users,
} from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { billingAddresses, type CacheMode, phonesBilledAt } from "./billing_cache.ts";
import type { SmartyardDeps } from "./mod.ts";

/** A house of the user; `known` when an admin set it up here (doors, cameras), else billing's address only. */
export interface UserHouse {
  houseId: number;
  address: string;
  known: boolean;
  flat: string | null;
}

/** The user's houses, billing's first (in billing's order), then admins' grants. */
export async function userHouses(
  sy: SmartyardDeps,
  user: { phone: string },
  mode: CacheMode,
): Promise<UserHouse[]> {
  const billed = await billingAddresses(sy, user.phone, mode);
  const granted = await sy.db.select({
    houseId: smartyardAddressGrants.houseId,
    flat: smartyardAddressGrants.flat,
  }).from(smartyardAddressGrants).where(eq(smartyardAddressGrants.phone, user.phone))
    .orderBy(smartyardAddressGrants.houseId);
  const ids = [...new Set([...billed.map((b) => b.houseId), ...granted.map((g) => g.houseId)])];
  const known = ids.length
    ? await sy.db.select().from(smartyardHouses).where(inArray(smartyardHouses.id, ids))
    : [];
  const knownById = new Map(known.map((h) => [h.id, h.address]));
  const out = new Map<number, UserHouse>();
  for (const b of billed) {
    if (out.has(b.houseId)) continue;
    const local = knownById.get(b.houseId);
    out.set(b.houseId, {
      houseId: b.houseId,
      address: local ?? b.address,
      known: local !== undefined,
      flat: null,
    });
  }
  for (const g of granted) {
    const prev = out.get(g.houseId);
    if (prev) prev.flat ??= g.flat;
    else {out.set(g.houseId, {
        houseId: g.houseId,
        address: knownById.get(g.houseId)!,
        known: true,
        flat: g.flat,
      });}
  }
  return [...out.values()];
}

/** Cameras a user of these houses may watch: the houses' cameras and their door panels' cameras. */
export async function houseCameraIds(deps: Pick<Deps, "db">, houseIds: number[]): Promise<Set<string>> {
  if (!houseIds.length) return new Set();
  const fromHouses = await deps.db.select({ id: smartyardHouseCameras.cameraId }).from(smartyardHouseCameras)
    .where(inArray(smartyardHouseCameras.houseId, houseIds));
  const fromDoors = await deps.db.select({ id: smartyardDoors.cameraId }).from(smartyardDoors)
    .where(and(inArray(smartyardDoors.houseId, houseIds), isNotNull(smartyardDoors.cameraId)));
  return new Set([...fromHouses.map((r) => r.id), ...fromDoors.map((r) => r.id!)]);
}

/**
 * Makes the user's camera grants match their houses: grants missing for a house camera are made (and
 * remembered as ours); grants we made for a camera no longer theirs are taken back. Idempotent; serialised
 * per user. Grant events tell the media-auth cache to read the user's grants again.
 */
export async function syncCameraGrants(
  deps: Pick<Deps, "db" | "clock" | "events">,
  userId: string,
  houseIds: number[],
): Promise<void> {
  const entitled = await houseCameraIds(deps, houseIds);
  const now = deps.clock.now();
  const added: string[] = [];
  const removed: string[] = [];
  await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"smartyard-grants:" + userId}))`);
    const existing = new Set(
      (await tx.select({ id: cameraGrants.cameraId }).from(cameraGrants).where(
        eq(cameraGrants.userId, userId),
      ))
        .map((r) => r.id),
    );
    const ours = (await tx.select({ id: smartyardCameraGrants.cameraId }).from(smartyardCameraGrants)
      .where(eq(smartyardCameraGrants.userId, userId))).map((r) => r.id);
    const missing = [...entitled].filter((id) => !existing.has(id));
    if (missing.length) {
      const made = await tx.insert(cameraGrants).values(
        missing.map((cameraId) => ({ userId, cameraId, createdAt: now })),
      )
        .onConflictDoNothing().returning({ id: cameraGrants.cameraId });
      added.push(...made.map((r) => r.id));
      if (made.length) {
        await tx.insert(smartyardCameraGrants).values(
          made.map((r) => ({ userId, cameraId: r.id, createdAt: now })),
        )
          .onConflictDoNothing();
      }
    }
    const stale = ours.filter((id) => !entitled.has(id));
    if (stale.length) {
      const gone = await tx.delete(cameraGrants)
        .where(and(eq(cameraGrants.userId, userId), inArray(cameraGrants.cameraId, stale)))
        .returning({ id: cameraGrants.cameraId });
      removed.push(...gone.map((r) => r.id));
      await tx.delete(smartyardCameraGrants)
        .where(and(eq(smartyardCameraGrants.userId, userId), inArray(smartyardCameraGrants.cameraId, stale)));
    }
  });
  for (const id of added) {
    deps.events.emit("camera.granted", { camera_id: id, user_id: userId, by: "smartyard" }, now);
  }
  for (const id of removed) {
    deps.events.emit("camera.grant_revoked", { camera_id: id, user_id: userId, by: "smartyard" }, now);
  }
}

/** Phones that may use `houseId` now (grants, and billing as cached): whom a change to the house concerns. */
export async function phonesOfHouse(deps: Pick<Deps, "db">, houseId: number): Promise<string[]> {
  const granted = await deps.db.select({ phone: smartyardAddressGrants.phone }).from(smartyardAddressGrants)
    .where(eq(smartyardAddressGrants.houseId, houseId));
  return [...new Set([...granted.map((g) => g.phone), ...await phonesBilledAt(deps, houseId)])];
}

/** Brings the camera grants of these phones' users up to date, from cached billing data (no billing call). */
export async function resyncPhones(sy: SmartyardDeps, phones: string[]): Promise<void> {
  if (!phones.length) return;
  const found = await sy.db.select({ id: users.id, phone: users.phone }).from(users)
    .where(inArray(users.phone, phones));
  for (const u of found) {
    const houses = await userHouses(sy, { phone: u.phone }, "cache");
    await syncCameraGrants(sy, u.id, houses.filter((h) => h.known).map((h) => h.houseId));
  }
}
