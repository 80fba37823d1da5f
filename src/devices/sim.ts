/**
 * SIM balance from USSD replies. A reply that parses sets the device's `sim_balance`, `sim_currency` and
 * `sim_balance_at` attributes (and mirrors them to Traccar when configured); a failure (`ussd timeout`,
 * an operator error) is recorded in the device's history and the last good balance is kept.
 */
import { eq, sql } from "drizzle-orm";
import { devices } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import { assertImei, deviceByImei, type DeviceRow, recordDeviceEvent } from "./registry.ts";
import { pushDeviceToTraccar } from "./traccar_sync.ts";
import { decodeUssdText, parseUssdBalance, type UssdResult } from "./ussd.ts";

/** What a reply said, as kept in the event history. */
export type UssdSummary =
  | { ok: true; balance: number; currency: string | null }
  | { ok: false; reason: Extract<UssdResult, { ok: false }>["reason"] };

/** Decodes and parses a reply; the summary omits the raw text (the history keeps it separately). */
export function readUssdReply(raw: string): { text: string; summary: UssdSummary } {
  const text = decodeUssdText(raw);
  const result = parseUssdBalance(text);
  const summary: UssdSummary = result.ok
    ? { ok: true, balance: result.balance, currency: result.currency }
    : { ok: false, reason: result.reason };
  return { text, summary };
}

/**
 * Stores a good balance on the device (merged into its attributes, so concurrent edits of other
 * attributes survive) and pushes it to Traccar; a Traccar failure is logged, not thrown, because the
 * device that reported the balance cannot do anything about it.
 */
export async function storeSimBalance(
  deps: Deps,
  device: DeviceRow,
  balance: { balance: number; currency: string | null },
  at: Date,
): Promise<DeviceRow> {
  const sim = {
    sim_balance: balance.balance,
    sim_currency: balance.currency,
    sim_balance_at: at.toISOString(),
  };
  const [row] = await deps.db.update(devices)
    .set({
      attributes: sql`${devices.attributes} || ${JSON.stringify(sim)}::jsonb`,
      updatedAt: deps.clock.now(),
    })
    .where(eq(devices.id, device.id)).returning();
  if (!row) return device;
  deps.events.emit("device.sim_balance", { device_id: row.id, user_id: row.userId, ...sim }, at);
  if (deps.traccar) {
    try {
      await pushDeviceToTraccar(deps, row);
    } catch (err) {
      deps.log.warn("cannot push the SIM balance to Traccar", { device_id: row.id, error: err });
    }
  }
  return row;
}

/**
 * A USSD reply the tracker posted to /qussd.php: recorded in the history as a `ussd` event, and stored
 * as the SIM balance when it parses. Unknown IMEI: 404.
 */
export async function reportUssd(
  deps: Deps,
  input: { imei: string; data: string },
): Promise<{ imei: string; device_id: string } & UssdSummary> {
  assertImei(input.imei);
  const device = await deviceByImei(deps, input.imei);
  if (!device) throw new NotFoundError("No device with this IMEI is registered");
  const at = deps.clock.now();
  const { text, summary } = readUssdReply(input.data);
  await recordDeviceEvent(deps, device.id, {
    type: "ussd",
    attributes: { source: "qussd", text: text.slice(0, 1000), ...summary },
    at,
  });
  if (summary.ok) await storeSimBalance(deps, device, summary, at);
  else deps.log.info("USSD reply without a balance", { device_id: device.id, reason: summary.reason });
  return { imei: device.imei, device_id: device.id, ...summary };
}
