/** Commands to devices through Traccar: on request, on a schedule, and the one-time initialisation. */
import { and, eq, isNull } from "drizzle-orm";
import { devices } from "../../db/schema.ts";
import type { Principal } from "../auth/principal.ts";
import type { Deps } from "../deps.ts";
import { type DeviceRow, recordDeviceEvent, traccarProblem, visibleDevice } from "./registry.ts";
import type { TraccarCommand } from "./traccar_client.ts";
import { requireTraccar, syncDeviceToTraccar } from "./traccar_sync.ts";

/** Sends a command to a device row; a never-synced device is synced first. Traccar errors propagate. */
export async function sendToDevice(deps: Deps, device: DeviceRow, command: TraccarCommand) {
  const client = requireTraccar(deps, "Sending commands");
  const synced = device.traccarId === null ? await syncDeviceToTraccar(deps, device) : device;
  const status = await client.sendCommand(synced.traccarId!, command);
  deps.events.emit("device.command_sent", {
    device_id: device.id,
    user_id: device.userId,
    type: command.type,
    status,
  }, deps.clock.now());
  return status;
}

/** `POST /api/v1/devices/:id/commands`: `sent` (Traccar 200) or `queued` (202, device offline). */
export async function sendDeviceCommand(
  deps: Deps,
  actor: Principal,
  id: string,
  command: TraccarCommand,
): Promise<"sent" | "queued"> {
  requireTraccar(deps, "Sending commands");
  const device = await visibleDevice(deps, actor, id);
  try {
    return await sendToDevice(deps, device, command);
  } catch (err) {
    throw traccarProblem(err, "Cannot send the command");
  }
}

/**
 * Sends DEVICE_INIT_COMMAND (a `custom` command with `attributes.data`) to a device that has not been
 * initialised yet. `initialised_at` is claimed with a conditional UPDATE first, so however many
 * listeners see the same deviceOnline, one sends it; if sending fails the claim is undone and the
 * next deviceOnline tries again. Returns the send status, or null when nothing was sent.
 */
export async function initialiseDevice(deps: Deps, device: DeviceRow): Promise<"sent" | "queued" | null> {
  const data = deps.config.DEVICE_INIT_COMMAND;
  if (!data || !deps.traccar) return null;
  const now = deps.clock.now();
  const [claimed] = await deps.db.update(devices).set({ initialisedAt: now })
    .where(and(eq(devices.id, device.id), isNull(devices.initialisedAt))).returning();
  if (!claimed) return null;
  try {
    const status = await sendToDevice(deps, claimed, { type: "custom", attributes: { data } });
    // The command text may hold device passwords, so the history names it without its data.
    await recordDeviceEvent(deps, device.id, { type: "initialised", attributes: { status }, at: now });
    deps.events.emit("device.initialised", { device_id: device.id, user_id: device.userId, status }, now);
    return status;
  } catch (err) {
    await deps.db.update(devices).set({ initialisedAt: null }).where(eq(devices.id, device.id));
    deps.log.warn("cannot send the initialisation command", { device_id: device.id, error: err });
    return null;
  }
}
