/**
 * The device registry: users claim GPS trackers by IMEI, name them, and see only their own; admins see
 * all. When Traccar is configured every change is mirrored there (see traccar_sync.ts).
 *
 * Claiming is "reserve locally, then sync": the row is inserted (under a per-user advisory lock, so
 * default names count correctly), Traccar is brought in line, and on a Traccar failure the fresh row is
 * deleted again and the caller gets a 502, so a failed claim leaves nothing behind locally. A row can
 * only stay unsynced (`traccar_id` null) if the process stops between the two steps; the next claim of
 * the same IMEI by its owner, a PATCH, or a command syncs it.
 */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { deviceEvents, devices } from "../../db/schema.ts";
import { enqueueEvent } from "../webhooks/outbox.ts";
import type { Principal } from "../auth/principal.ts";
import type { AppDeps, Deps } from "../deps.ts";
import { BadGatewayError, ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { isValidImei } from "./imei.ts";
import { TraccarError } from "./traccar_client.ts";
import { pushDeviceToTraccar, syncDeviceToTraccar, unlinkDeviceInTraccar } from "./traccar_sync.ts";

/** A device row as stored. */
export type DeviceRow = typeof devices.$inferSelect;

/** A device as the API shows it. */
export interface DeviceView {
  id: string;
  imei: string;
  name: string;
  user_id: string;
  attributes: Record<string, unknown>;
  traccar_id: number | null;
  first_online_at: string | null;
  initialised_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One entry of a device's event history. */
export interface DeviceEventView {
  id: number;
  type: string;
  at: string;
  traccar_event_id: number | null;
  attributes: Record<string, unknown>;
}

/** Attributes gatehouse itself maintains from USSD replies; users cannot set them. */
export const SIM_ATTRIBUTES = ["sim_balance", "sim_currency", "sim_balance_at"] as const;

/** A UUID in its canonical text form (anything else cannot name a row, so it is a 404, not a 500). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The API view of a row. */
export function deviceView(row: DeviceRow): DeviceView {
  return {
    id: row.id,
    imei: row.imei,
    name: row.name,
    user_id: row.userId,
    attributes: row.attributes,
    traccar_id: row.traccarId,
    first_online_at: row.firstOnlineAt?.toISOString() ?? null,
    initialised_at: row.initialisedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** Throws a 422 naming `field` unless `imei` is 15 digits with a valid Luhn check digit. */
export function assertImei(imei: string, field = "imei"): void {
  if (!isValidImei(imei)) {
    throw new ValidationError([{
      field,
      message: "An IMEI is 15 digits ending in a valid Luhn check digit",
    }]);
  }
}

/** The name a user's next device gets: DEVICE_NAME_TEMPLATE with `{n}` counting their devices. */
export function defaultDeviceName(template: string, existing: readonly string[]): string {
  const taken = new Set(existing);
  let n = existing.length + 1;
  const name = (k: number) => template.replaceAll("{n}", String(k));
  // Skip numbers still in use after a device was released (Vehicle 1 gone, Vehicle 2 kept → Vehicle 3).
  while (template.includes("{n}") && taken.has(name(n))) n++;
  return name(n);
}

/** Whether `imei` can be claimed by the caller: free, or already theirs. */
export async function checkDevice(
  deps: Pick<Deps, "db">,
  actor: Principal,
  imei: string,
): Promise<{ imei: string; available: boolean; reason?: string }> {
  assertImei(imei);
  const [row] = await deps.db.select({ userId: devices.userId }).from(devices).where(eq(devices.imei, imei));
  if (!row) return { imei, available: true };
  if (actor.kind === "admin") return { imei, available: false, reason: "claimed" };
  if (row.userId === actor.userId) return { imei, available: true, reason: "already_claimed_by_you" };
  return { imei, available: false, reason: "claimed_by_another_user" };
}

/**
 * Claims `imei` for `userId`: 201-style `created: true` for a new claim, `created: false` when the user
 * already owns it (the same device), a 409 when another user does, a 502 when Traccar fails. Double
 * submits of one claim in this app wait for each other (`deps.claimLocks`) instead of racing Traccar.
 */
export function claimDevice(
  deps: Deps & Pick<AppDeps, "claimLocks">,
  input: { userId: string; imei: string; name?: string },
): Promise<{ device: DeviceView; created: boolean }> {
  assertImei(input.imei);
  return deps.claimLocks.run(`claim:${input.imei}`, () => claimOnce(deps, input));
}

async function claimOnce(
  deps: Deps,
  input: { userId: string; imei: string; name?: string },
): Promise<{ device: DeviceView; created: boolean }> {
  const { db, clock, config } = deps;
  const now = clock.now();
  const reserved = await db.transaction(async (tx) => {
    // One claim at a time per user, so two claims cannot both become "Vehicle 2".
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"devices:user:" + input.userId}))`);
    const [existing] = await tx.select().from(devices).where(eq(devices.imei, input.imei));
    if (existing) {
      if (existing.userId !== input.userId) {
        throw new ConflictError("This device is already claimed by another user", { imei: input.imei });
      }
      return { row: existing, created: false };
    }
    const mine = await tx.select({ name: devices.name }).from(devices).where(
      eq(devices.userId, input.userId),
    );
    const name = input.name ?? defaultDeviceName(config.DEVICE_NAME_TEMPLATE, mine.map((d) => d.name));
    const [row] = await tx.insert(devices).values({
      imei: input.imei,
      userId: input.userId,
      name,
      attributes: {},
      createdAt: now,
      updatedAt: now,
    }).onConflictDoNothing().returning();
    // Another user's claim of the same IMEI committed between our read and our insert.
    if (!row) throw new ConflictError("This device is already claimed by another user", { imei: input.imei });
    // webhooks: without Traccar the claim is final here, so its message commits with it
    if (!deps.traccar) await enqueueEvent(tx, { type: "device.claimed", data: claimedData(row) }, now);
    return { row, created: true };
  });

  let row = reserved.row;
  if (deps.traccar && row.traccarId === null) {
    try {
      row = await syncDeviceToTraccar(deps, row);
    } catch (err) {
      if (reserved.created) await db.delete(devices).where(eq(devices.id, row.id));
      throw traccarProblem(err, "Cannot claim the device");
    }
  }
  if (reserved.created) {
    // webhooks: with Traccar the claim is final only once synced (a failed sync deletes the row)
    if (deps.traccar) await enqueueEvent(db, { type: "device.claimed", data: claimedData(row) }, now);
    deps.events.emit("device.claimed", claimedData(row), now);
  }
  return { device: deviceView(row), created: reserved.created };
}

/** Turns a Traccar failure into a 502 problem; anything else is rethrown unchanged. */
export function traccarProblem(err: unknown, action: string): unknown {
  return err instanceof TraccarError ? new BadGatewayError(`${action}: ${err.message}`) : err;
}

/** The caller's devices (admins: all), oldest first. */
export async function listDevices(deps: Pick<Deps, "db">, actor: Principal): Promise<DeviceView[]> {
  const query = deps.db.select().from(devices);
  const rows = actor.kind === "user"
    ? await query.where(eq(devices.userId, actor.userId)).orderBy(asc(devices.createdAt), asc(devices.imei))
    : await query.orderBy(asc(devices.createdAt), asc(devices.imei));
  return rows.map(deviceView);
}

/** The device row if the caller may see it, else a 404 (others' devices do not exist for a user). */
export async function visibleDevice(
  deps: Pick<Deps, "db">,
  actor: Principal,
  id: string,
): Promise<DeviceRow> {
  const notFound = new NotFoundError("No such device");
  if (!UUID.test(id)) throw notFound;
  const [row] = await deps.db.select().from(devices).where(eq(devices.id, id));
  if (!row || (actor.kind === "user" && row.userId !== actor.userId)) throw notFound;
  return row;
}

/** One device, as visible to the caller. */
export async function getDevice(deps: Pick<Deps, "db">, actor: Principal, id: string): Promise<DeviceView> {
  return deviceView(await visibleDevice(deps, actor, id));
}

/**
 * Renames a device and/or merges attributes (a `null` value removes the key), Traccar first: when
 * Traccar refuses, nothing changes locally and the caller gets a 502.
 */
export async function updateDevice(
  deps: Deps,
  actor: Principal,
  id: string,
  patch: { name?: string; attributes?: Record<string, unknown> },
): Promise<DeviceView> {
  let row = await visibleDevice(deps, actor, id);
  const set: Record<string, unknown> = {};
  const removed: string[] = [];
  for (const [key, value] of Object.entries(patch.attributes ?? {})) {
    if ((SIM_ATTRIBUTES as readonly string[]).includes(key)) {
      throw new ValidationError([
        { field: `attributes.${key}`, message: `${key} is set by the device's USSD replies` },
      ]);
    }
    if (value === null) removed.push(key);
    else set[key] = value;
  }
  const name = patch.name ?? row.name;
  if (deps.traccar) {
    const next = { ...row, name, attributes: withoutKeys({ ...row.attributes, ...set }, removed) };
    try {
      row = { ...row, traccarId: (await pushDeviceToTraccar(deps, next, removed)).traccarId };
    } catch (err) {
      throw traccarProblem(err, "Cannot update the device");
    }
  }
  const now = deps.clock.now();
  let attributes = sql`(${devices.attributes} || ${JSON.stringify(set)}::jsonb)`;
  for (const key of removed) attributes = sql`(${attributes} - ${key}::text)`;
  const [updated] = await deps.db.update(devices)
    .set({ name, attributes, traccarId: row.traccarId, updatedAt: now })
    .where(eq(devices.id, row.id)).returning();
  if (!updated) throw new NotFoundError("No such device");
  deps.events.emit("device.updated", { device_id: updated.id, user_id: updated.userId }, now);
  return deviceView(updated);
}

function withoutKeys(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

/** Releases a device: unlinks the owner in Traccar (the Traccar device and its history stay), then deletes it here. */
export async function releaseDevice(deps: Deps, actor: Principal, id: string): Promise<void> {
  const row = await visibleDevice(deps, actor, id);
  if (deps.traccar && row.traccarId !== null) {
    try {
      await unlinkDeviceInTraccar(deps, row);
    } catch (err) {
      throw traccarProblem(err, "Cannot release the device");
    }
  }
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    await tx.delete(devices).where(eq(devices.id, row.id));
    await enqueueEvent(tx, { type: "device.released", data: claimedData(row) }, now); // webhooks
  });
  deps.events.emit("device.released", claimedData(row), now);
}

/** The data of device.claimed / device.released. */
function claimedData(row: DeviceRow) {
  return { device_id: row.id, user_id: row.userId, imei: row.imei };
}

/** The device with this IMEI (any owner), or null. */
export async function deviceByImei(deps: Pick<Deps, "db">, imei: string): Promise<DeviceRow | null> {
  const [row] = await deps.db.select().from(devices).where(eq(devices.imei, imei));
  return row ?? null;
}

/** The device synced to this Traccar id, or null. */
export async function deviceByTraccarId(
  deps: Pick<Deps, "db">,
  traccarId: number,
): Promise<DeviceRow | null> {
  const [row] = await deps.db.select().from(devices).where(eq(devices.traccarId, traccarId));
  return row ?? null;
}

/**
 * Adds an entry to a device's history and trims it to DEVICE_EVENT_HISTORY. With a Traccar event id the
 * entry is recorded once however many listeners saw the event; returns false for such a duplicate, so
 * that only one instance acts on it.
 */
export async function recordDeviceEvent(
  deps: Pick<Deps, "db" | "config" | "clock">,
  deviceId: string,
  event: { type: string; traccarEventId?: number | null; attributes?: Record<string, unknown>; at?: Date },
): Promise<boolean> {
  const now = deps.clock.now();
  const at = event.at ?? now;
  return await deps.db.transaction(async (tx) => {
    const [row] = await tx.insert(deviceEvents).values({
      deviceId,
      type: event.type,
      traccarEventId: event.traccarEventId ?? null,
      attributes: event.attributes ?? {},
      at,
      createdAt: now,
    }).onConflictDoNothing().returning({ id: deviceEvents.id });
    if (!row) return false;
    const keep = tx.select({ id: deviceEvents.id }).from(deviceEvents)
      .where(eq(deviceEvents.deviceId, deviceId)).orderBy(desc(deviceEvents.id))
      .limit(deps.config.DEVICE_EVENT_HISTORY);
    await tx.delete(deviceEvents).where(
      and(eq(deviceEvents.deviceId, deviceId), sql`${deviceEvents.id} not in (${keep})`),
    );
    // webhooks: the history entry and its message commit together
    await enqueueEvent(tx, {
      type: "device.event",
      data: {
        device_id: deviceId,
        event_type: event.type,
        attributes: event.attributes ?? {},
        at: at.toISOString(),
      },
    }, now);
    return true;
  });
}

/** A device's history, newest first. */
export async function listDeviceEvents(
  deps: Pick<Deps, "db">,
  actor: Principal,
  id: string,
): Promise<DeviceEventView[]> {
  const device = await visibleDevice(deps, actor, id);
  const rows = await deps.db.select().from(deviceEvents).where(eq(deviceEvents.deviceId, device.id))
    .orderBy(desc(deviceEvents.id));
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    at: r.at.toISOString(),
    traccar_event_id: r.traccarEventId,
    attributes: r.attributes,
  }));
}
