/**
 * Keeps Traccar in line with the registry. Every step is idempotent (find before create, check links
 * before linking), so a sync interrupted halfway is completed by simply running it again.
 *
 * Each gatehouse user who claims a device gets one Traccar user, made on demand with the email
 * `<gatehouse user id>@users.gatehouse.invalid` (`.invalid` is reserved by RFC 2606, so it can never
 * collide with a real address), the phone number as name and phone, and a random password that is not
 * kept: people log in through gatehouse, not Traccar. The mapping is stored in `traccar_users`.
 */
import { eq } from "drizzle-orm";
import { devices, traccarUsers } from "../../db/schema.ts";
import { getUser } from "../auth/users.ts";
import { randomToken } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import { ServiceUnavailableError } from "../errors.ts";
import type { DeviceRow } from "./registry.ts";
import { type TraccarClient, type TraccarDevice, TraccarError } from "./traccar_client.ts";

/** The email of the Traccar user made for a gatehouse user. */
export function traccarEmail(userId: string): string {
  return `${userId}@users.gatehouse.invalid`;
}

/** The Traccar client, or a 503 saying Traccar is not configured. */
export function requireTraccar(deps: Pick<Deps, "traccar">, action = "This action"): TraccarClient {
  if (!deps.traccar) {
    throw new ServiceUnavailableError(`${action} needs Traccar, which is not configured (set TRACCAR_URL)`);
  }
  return deps.traccar;
}

/** The Traccar user id of a gatehouse user, creating the Traccar user on first need. */
export async function ensureTraccarUser(deps: Deps, userId: string): Promise<number> {
  const client = requireTraccar(deps);
  const [known] = await deps.db.select().from(traccarUsers).where(eq(traccarUsers.userId, userId));
  if (known) return known.traccarUserId;
  const user = await getUser(deps, userId);
  const email = traccarEmail(userId);
  const found = (await client.listUsers()).find((u) => u.email === email);
  const traccarUser = found ?? await client.createUser({
    name: user.phone,
    email,
    phone: user.phone,
    password: randomToken(32),
    attributes: { gatehouseUserId: userId },
  });
  await deps.db.insert(traccarUsers).values({
    userId,
    traccarUserId: traccarUser.id,
    createdAt: deps.clock.now(),
  }).onConflictDoUpdate({ target: traccarUsers.userId, set: { traccarUserId: traccarUser.id } });
  return traccarUser.id;
}

async function linkOwner(deps: Deps, userId: string, deviceId: number): Promise<void> {
  const client = requireTraccar(deps);
  for (let attempt = 0;; attempt++) {
    const ownerId = await ensureTraccarUser(deps, userId);
    try {
      const linked = await client.userDevices(ownerId);
      if (!linked.some((d) => d.id === deviceId)) await client.link({ userId: ownerId, deviceId });
      return;
    } catch (err) {
      // The stored Traccar user may have been deleted in Traccar: forget it and make a new one, once.
      if (attempt > 0 || !(err instanceof TraccarError) || err.status !== 400) throw err;
      await deps.db.delete(traccarUsers).where(eq(traccarUsers.userId, userId));
    }
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Creates or finds the device in Traccar (uniqueId = IMEI), makes sure our Traccar user can see it (so
 * its events reach our socket), gives it the registry's name and attributes, links it to the owner's
 * Traccar user, and stores the Traccar id. Returns the updated row.
 */
export async function syncDeviceToTraccar(deps: Deps, row: DeviceRow): Promise<DeviceRow> {
  const client = requireTraccar(deps);
  let device = await client.findDevice(row.imei);
  if (!device) {
    // It may exist without being linked to us (made by someone else in Traccar's UI).
    device = await client.findDevice(row.imei, { all: true });
    if (device) await client.link({ userId: (await client.me()).id, deviceId: device.id });
  }
  if (!device) {
    device = await client.createDevice({ name: row.name, uniqueId: row.imei, attributes: row.attributes });
  } else {
    device = await putDevice(client, device, row, []);
  }
  await linkOwner(deps, row.userId, device.id);
  const [updated] = await deps.db.update(devices).set({ traccarId: device.id }).where(eq(devices.id, row.id))
    .returning();
  return updated ?? { ...row, traccarId: device.id };
}

/** Renames the Traccar device and merges attributes into it (removing `removed`) when anything differs. */
async function putDevice(
  client: TraccarClient,
  device: TraccarDevice,
  row: Pick<DeviceRow, "name" | "attributes">,
  removed: readonly string[],
): Promise<TraccarDevice> {
  const attributes = Object.fromEntries(
    Object.entries({ ...device.attributes, ...row.attributes }).filter(([k]) => !removed.includes(k)),
  );
  if (device.name === row.name && sameJson(attributes, device.attributes ?? {})) return device;
  return await client.updateDevice({ ...device, name: row.name, attributes });
}

/** Pushes a changed name and attributes to Traccar (a full sync when the device was never synced). */
export async function pushDeviceToTraccar(
  deps: Deps,
  row: DeviceRow,
  removed: readonly string[] = [],
): Promise<{ traccarId: number }> {
  const client = requireTraccar(deps);
  if (row.traccarId === null) return { traccarId: (await syncDeviceToTraccar(deps, row)).traccarId! };
  await putDevice(client, await client.getDevice(row.traccarId), row, removed);
  return { traccarId: row.traccarId };
}

/** Removes the owner's link to the device in Traccar; the device and its history stay for the admin. */
export async function unlinkDeviceInTraccar(deps: Deps, row: DeviceRow): Promise<void> {
  const client = requireTraccar(deps);
  const [owner] = await deps.db.select().from(traccarUsers).where(eq(traccarUsers.userId, row.userId));
  if (!owner || row.traccarId === null) return;
  await client.unlink({ userId: owner.traccarUserId, deviceId: row.traccarId });
}
