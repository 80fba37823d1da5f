/**
 * Acts on what Traccar pushes over `/api/socket`: every event goes into its device's history, a
 * `deviceOnline` initialises a device once, and a `commandResult` holding a USSD reply sets the SIM
 * balance. Several gatehouse instances may each hold a socket; the history's unique (device, Traccar
 * event id) index makes exactly one of them act on each event.
 */
import { and, eq, isNull } from "drizzle-orm";
import { devices } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { initialiseDevice } from "./commands.ts";
import { deviceByImei, deviceByTraccarId, type DeviceRow, recordDeviceEvent } from "./registry.ts";
import { readUssdReply, storeSimBalance } from "./sim.ts";
import type { TraccarClient, TraccarEvent, TraccarPosition } from "./traccar_client.ts";

/** One socket message: any of `devices`, `positions`, `events` (absent keys omitted; `{}` is a keepalive). */
export interface TraccarMessage {
  devices?: unknown[];
  positions?: TraccarPosition[];
  events?: TraccarEvent[];
}

const POSITION_CACHE = 1000;
const UNKNOWN_DEVICE_TTL_MS = 60_000;

/** Handles socket messages in the order they arrive (the listener awaits each one). */
export class TraccarEventDispatcher {
  readonly #deps: Deps & { traccar: TraccarClient };
  /** Recent positions' `attributes.result`, by position id, so a commandResult rarely needs a REST call. */
  readonly #results = new Map<number, string>();
  /** Traccar ids of devices no one has claimed here, and until when to believe that. */
  readonly #unknown = new Map<number, number>();

  constructor(deps: Deps) {
    if (!deps.traccar) throw new Error("Cannot dispatch Traccar events: Traccar is not configured");
    this.#deps = deps as Deps & { traccar: TraccarClient };
  }

  /** Handles one parsed socket message. */
  async handleMessage(message: TraccarMessage): Promise<void> {
    for (const position of Array.isArray(message.positions) ? message.positions : []) {
      const result = position?.attributes?.result;
      if (typeof position?.id !== "number" || typeof result !== "string") continue;
      this.#results.set(position.id, result);
      if (this.#results.size > POSITION_CACHE) this.#results.delete(this.#results.keys().next().value!);
    }
    for (const event of Array.isArray(message.events) ? message.events : []) {
      // Server-wide events (deviceId 0) belong to no device.
      if (typeof event?.type !== "string" || typeof event.deviceId !== "number" || event.deviceId <= 0) {
        continue;
      }
      try {
        await this.handleEvent(event);
      } catch (err) {
        this.#deps.log.error("cannot handle a Traccar event", {
          type: event.type,
          traccar_device_id: event.deviceId,
          error: err,
        });
      }
    }
  }

  /** Records one event and acts on it. */
  async handleEvent(event: TraccarEvent): Promise<void> {
    const deps = this.#deps;
    const device = await this.#device(event.deviceId);
    if (!device) return;
    const at = parseTime(event.eventTime) ?? deps.clock.now();
    // Traccar's web notificator adds a display `message`; it repeats the other fields.
    const { message: _message, ...attributes } = event.attributes ?? {};
    let balance: { balance: number; currency: string | null } | null = null;
    if (event.type === "commandResult") {
      const text = await this.#resultText(event);
      if (text !== null) {
        attributes.result = text;
        const { summary } = readUssdReply(text);
        // Replies to other commands ("OK") are not USSD; only recognised replies get a `ussd` entry.
        if (summary.ok || summary.reason !== "unrecognized") attributes.ussd = summary;
        if (summary.ok) balance = summary;
      }
    }
    const fresh = await recordDeviceEvent(deps, device.id, {
      type: event.type,
      traccarEventId: typeof event.id === "number" && event.id > 0 ? event.id : null,
      attributes,
      at,
    });
    if (!fresh) return; // another listener recorded (and acts on) this event
    if (event.type === "deviceOnline") {
      await deps.db.update(devices).set({ firstOnlineAt: at })
        .where(and(eq(devices.id, device.id), isNull(devices.firstOnlineAt)));
      await initialiseDevice(deps, device);
    }
    if (balance) await storeSimBalance(deps, device, balance, at);
  }

  /** The reply text of a commandResult: in the event's attributes, else in the position it points at. */
  async #resultText(event: TraccarEvent): Promise<string | null> {
    const inEvent = event.attributes?.result;
    if (typeof inEvent === "string") return inEvent;
    const positionId = event.positionId ?? 0;
    if (positionId <= 0) return null;
    const cached = this.#results.get(positionId);
    if (cached !== undefined) return cached;
    // Traccar raises the event before it pushes the position, so the position is usually fetched.
    const [position] = await this.#deps.traccar.positions([positionId]);
    const result = position?.attributes?.result;
    return typeof result === "string" ? result : null;
  }

  /** The local device for a Traccar id; devices synced before we stored the id are matched by IMEI once. */
  async #device(traccarId: number): Promise<DeviceRow | null> {
    const deps = this.#deps;
    const known = await deviceByTraccarId(deps, traccarId);
    if (known) return known;
    const now = deps.clock.now().getTime();
    if ((this.#unknown.get(traccarId) ?? 0) > now) return null;
    const remote = await deps.traccar.getDevice(traccarId).catch(() => null);
    const local = remote ? await deviceByImei(deps, remote.uniqueId) : null;
    if (!local) {
      if (this.#unknown.size >= 10_000) {
        for (const [id, until] of this.#unknown) if (until <= now) this.#unknown.delete(id);
      }
      this.#unknown.set(traccarId, now + UNKNOWN_DEVICE_TTL_MS);
      return null;
    }
    const [linked] = await deps.db.update(devices).set({ traccarId }).where(eq(devices.id, local.id))
      .returning();
    return linked ?? local;
  }
}

function parseTime(value: unknown): Date | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
}
