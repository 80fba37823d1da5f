/**
 * Scheduled commands: "send this command to this device every N seconds", kept in the database.
 *
 * Several gatehouse instances may share the database, each with its own {@link DeviceScheduler}. A tick
 * claims due rows in one statement, `UPDATE … SET next_run_at = <next slot> WHERE id IN (SELECT … WHERE
 * next_run_at <= now FOR UPDATE SKIP LOCKED)`: the row locks make concurrent ticks skip each other's
 * rows, and the moved `next_run_at` keeps a committed claim from being taken again, so every period
 * runs once in the whole fleet. The next slot stays on the schedule's grid (created_at + k·every_s)
 * and periods missed while no scheduler ran are skipped, not replayed. A run whose send fails is not
 * retried before the next period; its error is kept in `last_error`.
 */
import { and, asc, count, eq, inArray, lte, sql } from "drizzle-orm";
import { devices, deviceSchedules } from "../../db/schema.ts";
import type { Principal } from "../auth/principal.ts";
import type { Deps } from "../deps.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { sendToDevice } from "./commands.ts";
import { recordDeviceEvent, UUID, visibleDevice } from "./registry.ts";
import type { TraccarCommand } from "./traccar_client.ts";
import { requireTraccar } from "./traccar_sync.ts";

/** The shortest period a schedule may have. */
export const MIN_EVERY_S = 60;
/** How many schedules one device may have. */
export const MAX_SCHEDULES_PER_DEVICE = 20;

type ScheduleRow = typeof deviceSchedules.$inferSelect;

/** A schedule as the API shows it. */
export interface ScheduleView {
  id: string;
  device_id: string;
  command: { type: string; attributes: Record<string, unknown> };
  every_s: number;
  next_run_at: string;
  last_run_at: string | null;
  last_status: string | null;
  last_error: string | null;
  runs: number;
  created_at: string;
}

function scheduleView(row: ScheduleRow): ScheduleView {
  return {
    id: row.id,
    device_id: row.deviceId,
    command: row.command,
    every_s: row.everyS,
    next_run_at: row.nextRunAt.toISOString(),
    last_run_at: row.lastRunAt?.toISOString() ?? null,
    last_status: row.lastStatus,
    last_error: row.lastError,
    runs: row.runs,
    created_at: row.createdAt.toISOString(),
  };
}

/** Adds a schedule to a device; its first run is `every_s` from now. Needs Traccar (503 without). */
export async function createSchedule(
  deps: Deps,
  actor: Principal,
  deviceId: string,
  input: { command: TraccarCommand; every_s: number },
): Promise<ScheduleView> {
  requireTraccar(deps, "Scheduled commands");
  const device = await visibleDevice(deps, actor, deviceId);
  const now = deps.clock.now();
  const row = await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"schedules:" + device.id}))`);
    const [{ n }] = await tx.select({ n: count() }).from(deviceSchedules)
      .where(eq(deviceSchedules.deviceId, device.id));
    if (n >= MAX_SCHEDULES_PER_DEVICE) {
      throw new ConflictError(`A device can have at most ${MAX_SCHEDULES_PER_DEVICE} schedules`);
    }
    const [created] = await tx.insert(deviceSchedules).values({
      deviceId: device.id,
      command: { type: input.command.type, attributes: input.command.attributes ?? {} },
      everyS: input.every_s,
      nextRunAt: new Date(now.getTime() + input.every_s * 1000),
      createdAt: now,
    }).returning();
    return created;
  });
  deps.events.emit("device.schedule_created", { device_id: device.id, schedule_id: row.id }, now);
  return scheduleView(row);
}

/** A device's schedules, oldest first. */
export async function listSchedules(deps: Deps, actor: Principal, deviceId: string): Promise<ScheduleView[]> {
  const device = await visibleDevice(deps, actor, deviceId);
  const rows = await deps.db.select().from(deviceSchedules).where(eq(deviceSchedules.deviceId, device.id))
    .orderBy(asc(deviceSchedules.createdAt), asc(deviceSchedules.id));
  return rows.map(scheduleView);
}

/** Removes a schedule; 404 when it is not on this (visible) device. */
export async function deleteSchedule(
  deps: Deps,
  actor: Principal,
  deviceId: string,
  scheduleId: string,
): Promise<void> {
  const device = await visibleDevice(deps, actor, deviceId);
  const notFound = new NotFoundError("No such schedule");
  if (!UUID.test(scheduleId)) throw notFound;
  const deleted = await deps.db.delete(deviceSchedules)
    .where(and(eq(deviceSchedules.id, scheduleId), eq(deviceSchedules.deviceId, device.id)))
    .returning({ id: deviceSchedules.id });
  if (deleted.length === 0) throw notFound;
  deps.events.emit(
    "device.schedule_deleted",
    { device_id: device.id, schedule_id: scheduleId },
    deps.clock.now(),
  );
}

/** Claims the due schedules (at most `limit`) and moves each to its next slot; see the module comment. */
export async function claimDueSchedules(
  deps: Pick<Deps, "db" | "clock">,
  limit = 100,
): Promise<ScheduleRow[]> {
  const now = deps.clock.now();
  const nowSql = sql`${now.toISOString()}::timestamptz`;
  const due = deps.db.select({ id: deviceSchedules.id }).from(deviceSchedules)
    .where(lte(deviceSchedules.nextRunAt, now)).orderBy(asc(deviceSchedules.nextRunAt)).limit(limit)
    .for("update", { skipLocked: true });
  const periods =
    sql`(floor(extract(epoch from (${nowSql} - ${deviceSchedules.nextRunAt})) / ${deviceSchedules.everyS}) + 1)`;
  return await deps.db.update(deviceSchedules).set({
    nextRunAt:
      sql`${deviceSchedules.nextRunAt} + make_interval(secs => ${deviceSchedules.everyS} * ${periods})`,
    lastRunAt: now,
    runs: sql`${deviceSchedules.runs} + 1`,
  }).where(inArray(deviceSchedules.id, due)).returning();
}

/** Runs the scheduled commands that are due, on a timer and on demand (`tick()`). */
export class DeviceScheduler implements AsyncDisposable {
  readonly #deps: Deps;
  readonly #intervalMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  readonly #running = new Set<Promise<unknown>>();
  #closed = false;

  constructor(deps: Deps, options: { intervalMs?: number } = {}) {
    this.#deps = deps;
    this.#intervalMs = options.intervalMs ?? deps.config.SCHEDULER_INTERVAL_S * 1000;
  }

  /** Starts ticking every interval (the first tick right away). */
  start(): this {
    if (!this.#closed && this.#timer === undefined) this.#schedule(0);
    return this;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(async () => {
      await this.tick().catch((err) => this.#deps.log.error("scheduler tick failed", { error: err }));
      if (!this.#closed) this.#schedule(this.#intervalMs);
    }, ms);
  }

  /** Claims and runs the due schedules; returns what each run did. */
  tick(): Promise<Array<{ schedule_id: string; status: string }>> {
    const run = this.#tick();
    const settled = run.catch(() => {}).finally(() => this.#running.delete(settled));
    this.#running.add(settled);
    return run;
  }

  async #tick(): Promise<Array<{ schedule_id: string; status: string }>> {
    const deps = this.#deps;
    const results: Array<{ schedule_id: string; status: string }> = [];
    for (const schedule of await claimDueSchedules(deps)) {
      let status: string;
      let error: string | null = null;
      try {
        const [device] = await deps.db.select().from(devices).where(eq(devices.id, schedule.deviceId));
        if (!device) continue; // released while we held the claim
        status = await sendToDevice(deps, device, schedule.command);
      } catch (err) {
        status = "failed";
        error = err instanceof Error ? err.message.slice(0, 500) : String(err);
        deps.log.warn("scheduled command failed", { schedule_id: schedule.id, error: err });
      }
      await deps.db.update(deviceSchedules).set({ lastStatus: status, lastError: error })
        .where(eq(deviceSchedules.id, schedule.id));
      await recordDeviceEvent(deps, schedule.deviceId, {
        type: "scheduledCommand",
        attributes: { schedule_id: schedule.id, command_type: schedule.command.type, status },
      });
      results.push({ schedule_id: schedule.id, status });
    }
    return results;
  }

  /** Stops the timer and waits for a running tick. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.all(this.#running);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
