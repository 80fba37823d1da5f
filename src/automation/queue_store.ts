/**
 * placement: the SQL of the one queue all instances share. Queued sessions wait as rows; an instance claims
 * the oldest with `FOR UPDATE SKIP LOCKED`, hands back what it did not start, and tells live instances from
 * gone ones by their Postgres connections. Creating and ending sessions stays in session_store.ts.
 */
import { and, count, eq, inArray, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { automationEvents, automationSessions } from "../../db/schema.ts";
import type { Clock } from "../clock.ts";
import type { SessionEvent } from "./hub.ts";
import { isSessionId } from "./session_store.ts";
import type { SessionRow } from "./view.ts";

/** Claims, hand-backs, places in line and expiry of queued sessions. */
export class QueueStore {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
  }

  /**
   * placement: claims up to `limit` of the oldest unclaimed queued sessions for `instance`, skipping rows
   * another instance is claiming (`FOR UPDATE SKIP LOCKED`); returns them oldest first.
   */
  async claim(instance: string, limit: number): Promise<SessionRow[]> {
    if (limit <= 0) return [];
    // A materialised CTE: an IN (subquery … FOR UPDATE) may be re-run per row and claim more than `limit`.
    const result = await this.#db.execute(sql`
      with oldest as materialized (
        select id from automation_sessions
         where status = 'queued' and instance is null
           and expires_at > ${this.#clock.now().toISOString()}::timestamptz
         order by created_at, id limit ${limit}
           for update skip locked)
      update automation_sessions s set instance = ${instance} from oldest where s.id = oldest.id
      returning s.id`);
    const ids = ((Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { id: string }[])
      .map((r) => r.id);
    if (!ids.length) return [];
    const rows = await this.#db.select().from(automationSessions).where(inArray(automationSessions.id, ids));
    return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  /** placement: hands the queued sessions `instance` claimed but did not start (or `ids` of them) back. */
  async release(instance: string, ids?: string[]): Promise<number> {
    if (ids && !ids.length) return 0;
    const rows = await this.#db.update(automationSessions).set({ instance: null })
      .where(and(
        eq(automationSessions.status, "queued"),
        eq(automationSessions.instance, instance),
        ids ? inArray(automationSessions.id, ids) : undefined,
      )).returning({ id: automationSessions.id });
    return rows.length;
  }

  /** placement: queued sessions claimed by an instance not in `alive` go back to the queue. */
  async releaseOrphans(alive: string[]): Promise<number> {
    const rows = await this.#db.update(automationSessions).set({ instance: null })
      .where(and(eq(automationSessions.status, "queued"), notAlive(alive)))
      .returning({ id: automationSessions.id });
    return rows.length;
  }

  /** cluster: ids of the instances connected to this Postgres now (their connections' application_name). */
  async liveInstances(): Promise<string[]> {
    const result = await this.#db.execute(sql`
      select distinct substr(application_name, ${INSTANCE_TAG.length + 1}) as id from pg_stat_activity
       where application_name like ${INSTANCE_TAG + "%"}`);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** 1-based place of queued session `row` in the global queue (0 when it is not waiting unclaimed). */
  async queuePosition(row: Pick<SessionRow, "id" | "status" | "instance" | "createdAt">): Promise<number> {
    if (row.status !== "queued" || row.instance) return 0;
    const [{ n }] = await this.#db.select({ n: count() }).from(automationSessions).where(and(
      UNCLAIMED,
      or(
        sql`${automationSessions.createdAt} < ${row.createdAt.toISOString()}::timestamptz`,
        and(eq(automationSessions.createdAt, row.createdAt), lte(automationSessions.id, row.id)),
      ),
    ));
    return Number(n);
  }

  /** Gives a session waiting unclaimed in the queue `seconds` more (an `extended` event); null when it is not. */
  async extendQueued(id: string, seconds: number): Promise<SessionEvent | null> {
    if (!isSessionId(id)) return null;
    const now = this.#clock.now();
    return await this.#db.transaction(async (tx) => {
      const [row] = await tx.update(automationSessions).set({
        expiresAt: sql`${automationSessions.expiresAt} + make_interval(secs => ${seconds})`,
        seq: sql`${automationSessions.seq} + 1`,
        updatedAt: now,
      }).where(and(eq(automationSessions.id, id), UNCLAIMED))
        .returning({ seq: automationSessions.seq, expiresAt: automationSessions.expiresAt });
      if (!row) return null;
      const data = { expires_at: row.expiresAt.toISOString() };
      await tx.insert(automationEvents).values({
        sessionId: id,
        seq: row.seq,
        type: "extended",
        data,
        at: now,
      });
      return { seq: row.seq, type: "extended", data, at: now.toISOString() };
    });
  }

  /** Unclaimed queued sessions past their deadline, with their lifetime in seconds (the reaper ends them). */
  async expiredQueued(): Promise<{ id: string; lifetimeS: number }[]> {
    const rows = await this.#db.select({
      id: automationSessions.id,
      createdAt: automationSessions.createdAt,
      expiresAt: automationSessions.expiresAt,
    }).from(automationSessions).where(and(UNCLAIMED, lte(automationSessions.expiresAt, this.#clock.now())));
    return rows.map((r) => ({ id: r.id, lifetimeS: (r.expiresAt.getTime() - r.createdAt.getTime()) / 1000 }));
  }
}

/** cluster: the application_name prefix of an instance's Postgres connections (`gatehouse:<instance id>`). */
export const INSTANCE_TAG = "gatehouse:";

/** Queued and not claimed by any instance: waiting in the global queue. */
export const UNCLAIMED = and(eq(automationSessions.status, "queued"), isNull(automationSessions.instance));

/** Claimed by an instance that is not in `alive`. */
function notAlive(alive: string[]): SQL {
  const claimed = sql`${automationSessions.instance} is not null`;
  return alive.length
    ? sql`${claimed} and ${automationSessions.instance} not in (${
      sql.join(alive.map((a) => sql`${a}`), sql`, `)
    })`
    : claimed;
}
