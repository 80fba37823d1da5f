/**
 * Every read and write of automation sessions, their ordered events and their artifacts: the only module
 * with SQL for them, with queue_store.ts (`store.queue`) for the queue's claims. Works the same on PGlite
 * and Postgres, and needs no browser.
 */
import { and, asc, count, desc, eq, getTableColumns, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { automationArtifacts, automationEvents, automationSessions } from "../../db/schema.ts";
import type { Clock } from "../clock.ts";
import { NotFoundError } from "../errors.ts";
import type { SessionEvent } from "./hub.ts";
import { QUEUE_LOCK_KEY } from "./session_queue.ts";
import { QueueStore, UNCLAIMED } from "./queue_store.ts";
import { ACTIVE_STATUSES, type SessionStatus } from "./status.ts";
import type { ArtifactInfo, SessionRow } from "./view.ts";

/** An event to append; its seq is given by the store. */
export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
}

/** A column update of a session row, written with the events that report it. */
export type SessionPatch = Partial<typeof automationSessions.$inferInsert>;

/** An artifact written in the same transaction as its `artifact` event. */
export interface NewArtifact {
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

/**
 * Writes the webhook messages of a session change inside the change's own transaction (src/webhooks/),
 * so an event and its delivery record commit together; `written` runs after a commit that wrote some.
 */
export interface SessionOutbox {
  write(
    tx: Pick<Db, "select" | "insert" | "update" | "execute">,
    change: { sessionId: string; events: NewEvent[]; patch: SessionPatch; now: Date; prompt?: unknown },
  ): Promise<number>;
  written(): void;
}

/** Filters of SessionStore.list. */
export interface SessionFilter {
  owner?: string;
  status?: SessionStatus[];
  flow?: string;
  ids?: string[];
  limit?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Names an artifact may have (also the only names the artifact route looks up). */
export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const { promptImage: _image, ...summaryColumns } = getTableColumns(automationSessions);

/** True when `id` can be a session id (anything else is a 404 without a query). */
export function isSessionId(id: string): boolean {
  return UUID.test(id);
}

/** Reads and writes sessions, events and artifacts. */
export class SessionStore {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #outbox?: SessionOutbox;

  /** placement: the SQL of the service-wide queue (claims, hand-backs, places, liveness). */
  readonly queue: QueueStore;

  constructor(deps: { db: Db; clock: Clock; outbox?: SessionOutbox }) {
    this.queue = new QueueStore(deps);
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#outbox = deps.outbox;
  }

  /**
   * Stores a new queued session and its first event (`status: queued`, seq 1). With `admit`, admissions are
   * serialised service-wide (a transaction advisory lock) and `admit` sees how many sessions wait
   * unclaimed and how many the row's owner (with an API key: that key) has active, so it can refuse (throw)
   * before the row exists, or answer the instance that runs it at once (placement: a free slot here and
   * nobody older waiting).
   */
  async create(
    row: {
      id: string;
      owner: string;
      /** The id of the API key an "admin" session is started with; its fair share is counted per key. */
      apiKeyId?: string | null;
      flow: string;
      input: unknown;
      webhookUrl: string | null;
      createdAt: Date;
      expiresAt: Date;
      promptTimeoutS?: number | null;
      sealedInput?: string | null;
    },
    admit?: (queued: number, ownerActive: number) => string | null,
  ): Promise<SessionRow> {
    return await this.#db.transaction(async (tx) => {
      let instance: string | null = null;
      if (admit) {
        // one admission at a time service-wide: the counts below and this insert are one step
        await tx.execute(sql`select pg_advisory_xact_lock(${QUEUE_LOCK_KEY})`);
        const [{ n }] = await tx.select({ n: count() }).from(automationSessions).where(UNCLAIMED);
        const [mine] = await tx.select({ n: count() }).from(automationSessions).where(
          activeOf(row.owner, row.apiKeyId),
        );
        instance = admit(Number(n), Number(mine.n));
      }
      const [created] = await tx.insert(automationSessions).values({
        ...row,
        status: "queued",
        seq: 1,
        updatedAt: row.createdAt,
        instance,
      }).returning();
      await tx.insert(automationEvents).values({
        sessionId: row.id,
        seq: 1,
        type: "status",
        data: { status: "queued" },
        at: row.createdAt,
      });
      return created;
    });
  }

  /** The row of `id` (with its prompt image); 404 when there is none. */
  async row(id: string): Promise<SessionRow> {
    if (!isSessionId(id)) throw new NotFoundError(`No session ${id}`);
    const [row] = await this.#db.select().from(automationSessions).where(eq(automationSessions.id, id))
      .limit(1);
    if (!row) throw new NotFoundError(`No session ${id}`);
    return row;
  }

  /** Session rows without their images, newest first, in one query. */
  async list(filter: SessionFilter = {}): Promise<SessionRow[]> {
    if (filter.ids && !filter.ids.length) return [];
    const where = and(
      filter.owner ? eq(automationSessions.owner, filter.owner) : undefined,
      filter.status?.length ? inArray(automationSessions.status, filter.status) : undefined,
      filter.flow ? eq(automationSessions.flow, filter.flow) : undefined,
      filter.ids ? inArray(automationSessions.id, filter.ids.filter(isSessionId)) : undefined,
    );
    const rows = await this.#db.select(summaryColumns).from(automationSessions).where(where)
      .orderBy(desc(automationSessions.createdAt), desc(automationSessions.id)).limit(filter.limit ?? 50);
    return rows.map((r) => ({ ...r, promptImage: null }));
  }

  /** Stored events of `id` after `afterSeq`, in order, at most `limit`. */
  async events(id: string, afterSeq = 0, limit = 1000): Promise<SessionEvent[]> {
    if (!isSessionId(id)) throw new NotFoundError(`No session ${id}`);
    const rows = await this.#db.select().from(automationEvents)
      .where(and(eq(automationEvents.sessionId, id), gt(automationEvents.seq, afterSeq)))
      .orderBy(asc(automationEvents.seq)).limit(limit);
    return rows.map((r) => ({
      seq: r.seq,
      type: r.type,
      data: r.data as Record<string, unknown>,
      at: r.at.toISOString(),
    }));
  }

  /** The artifacts saved for `id`, oldest first. */
  async artifacts(id: string): Promise<ArtifactInfo[]> {
    const rows = await this.#db.select({
      name: automationArtifacts.name,
      contentType: automationArtifacts.contentType,
      size: automationArtifacts.size,
      createdAt: automationArtifacts.createdAt,
    }).from(automationArtifacts).where(eq(automationArtifacts.sessionId, id))
      .orderBy(asc(automationArtifacts.createdAt), asc(automationArtifacts.name));
    return rows.map((r) => ({
      name: r.name,
      content_type: r.contentType,
      size: r.size,
      created_at: r.createdAt.toISOString(),
    }));
  }

  /** One artifact's bytes and content type; 404 when it does not exist. */
  async artifact(id: string, name: string): Promise<{ bytes: Uint8Array; contentType: string }> {
    if (!isSessionId(id) || !ARTIFACT_NAME.test(name)) throw new NotFoundError(`No artifact ${name}`);
    const [row] = await this.#db.select().from(automationArtifacts)
      .where(and(eq(automationArtifacts.sessionId, id), eq(automationArtifacts.name, name))).limit(1);
    if (!row) throw new NotFoundError(`No artifact ${name} in session ${id}`);
    return { bytes: row.bytes, contentType: row.contentType };
  }

  /**
   * Appends `events` numbered from `afterSeq + 1`, applies `patch` and stores `artifact`, in one
   * transaction; returns the stored events. The caller serialises appends of one session.
   */
  async append(
    id: string,
    afterSeq: number,
    change: { events: NewEvent[]; patch?: SessionPatch; artifact?: NewArtifact },
  ): Promise<SessionEvent[]> {
    const now = this.#clock.now();
    const rows = change.events.map((e, i) => ({
      sessionId: id,
      seq: afterSeq + i + 1,
      type: e.type,
      data: e.data,
      at: now,
    }));
    let queued = 0;
    await this.#db.transaction(async (tx) => {
      const a = change.artifact;
      if (a) {
        const values = { contentType: a.contentType, size: a.bytes.length, bytes: a.bytes, createdAt: now };
        await tx.insert(automationArtifacts).values({ sessionId: id, name: a.name, ...values })
          .onConflictDoUpdate({
            target: [automationArtifacts.sessionId, automationArtifacts.name],
            set: values,
          });
      }
      if (rows.length) await tx.insert(automationEvents).values(rows);
      await tx.update(automationSessions)
        .set({ ...change.patch, seq: afterSeq + rows.length, updatedAt: now })
        .where(eq(automationSessions.id, id));
      queued = await this.#outbox?.write(tx, {
        sessionId: id,
        events: change.events,
        patch: change.patch ?? {},
        now,
      }) ??
        0;
    });
    if (queued) this.#outbox?.written();
    return rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data, at: now.toISOString() }));
  }

  /** Writes the latest frame of prompt `view` to the row, if that prompt is still the row's open one. */
  async writePromptImage(id: string, view: { id: string }, image: Uint8Array | null): Promise<void> {
    const write = (db: Pick<Db, "update">) =>
      db.update(automationSessions).set({ promptImage: image, prompt: view })
        .where(and(eq(automationSessions.id, id), sql`${automationSessions.prompt}->>'id' = ${view.id}`))
        .returning({ id: automationSessions.id });
    const outbox = this.#outbox;
    if (!outbox || !image) {
      await write(this.#db);
      return;
    }
    // a new QR frame is a `session.prompt` refresh for webhook receivers, written with the frame
    const now = this.#clock.now();
    let queued = 0;
    await this.#db.transaction(async (tx) => {
      if (!(await write(tx)).length) return;
      queued = await outbox.write(tx, {
        sessionId: id,
        events: [],
        patch: { promptImage: image },
        now,
        prompt: view,
      });
    });
    if (queued) outbox.written();
  }

  /**
   * Ends active sessions in the database alone (no process runs them): appends an `error` and a final
   * `status` event to each and returns their ids. `ids` unset means every active session.
   */
  async endActive(
    options: {
      status: SessionStatus;
      error: string | null;
      ids?: string[];
      /** Only sessions waiting unclaimed in the queue (a claim racing the end wins or loses cleanly). */
      unclaimed?: boolean;
      /** Only sessions whose instance is not in this list (see orphanFilter). */
      orphansOf?: string[];
    },
  ): Promise<string[]> {
    const at = sql`${this.#clock.now().toISOString()}::timestamptz`;
    const active = sql.join(ACTIVE_STATUSES.map((s) => sql`${s}`), sql`, `);
    const ids = options.ids?.filter(isSessionId);
    const only = ids?.length
      ? sql`and id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`
      : sql``;
    if (ids && !ids.length) return [];
    const unclaimed = options.unclaimed ? sql`and status = 'queued' and instance is null` : sql``;
    const orphans = options.orphansOf ? sql`and ${orphanFilter(options.orphansOf)}` : sql``;
    const statusEvent = JSON.stringify({
      status: options.status,
      ...(options.error ? { error: options.error } : {}),
    });
    const errorEvents = options.error
      ? sql`union all select id, seq - 1, 'error', ${
        JSON.stringify({ message: options.error })
      }::jsonb, ${at} from ended`
      : sql``;
    const ended = async (db: Pick<Db, "execute">) => {
      const result = await db.execute(sql`
      with ended as (
        update automation_sessions
           set status = ${options.status}, error = ${options.error}, prompt = null, prompt_image = null,
               sealed_input = null, seq = seq + ${
        options.error ? 2 : 1
      }, finished_at = ${at}, updated_at = ${at}
         where status in (${active}) ${only} ${unclaimed} ${orphans}
        returning id, seq
      ), events as (
        insert into automation_events (session_id, seq, type, data, at)
        select id, seq, 'status', ${statusEvent}::jsonb, ${at} from ended
        ${errorEvents}
        returning session_id
      )
      select distinct session_id as id from events`);
      return ((Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { id: string }[])
        .map((r) => r.id);
    };
    const outbox = this.#outbox;
    if (!outbox) return await ended(this.#db);
    // webhooks: each ended session's final event is written to the outbox with the end itself
    const now = this.#clock.now();
    const events: NewEvent[] = [
      ...(options.error ? [{ type: "error", data: { message: options.error } }] : []),
      { type: "status", data: JSON.parse(statusEvent) },
    ];
    let queued = 0;
    const endedIds = await this.#db.transaction(async (tx) => {
      const done = await ended(tx);
      for (const id of done) queued += await outbox.write(tx, { sessionId: id, events, patch: {}, now });
      return done;
    });
    if (queued) outbox.written();
    return endedIds;
  }
}

/**
 * Active sessions no live instance can go on with: started (running, waiting) by an instance not in
 * `alive` (or by none: rows from before placement), or queued without their sealed input (ditto).
 */
function orphanFilter(alive: string[]): SQL {
  const gone = alive.length
    ? sql`(instance is null or instance not in (${sql.join(alive.map((a) => sql`${a}`), sql`, `)}))`
    : sql`true`;
  return sql`((status <> 'queued' and ${gone}) or (status = 'queued' and sealed_input is null))`;
}

/** Active (queued, running, waiting) sessions of `owner` (or of its key `apiKeyId`) on every instance. */
function activeOf(owner: string, apiKeyId?: string | null) {
  return and(
    eq(automationSessions.owner, owner),
    apiKeyId ? eq(automationSessions.apiKeyId, apiKeyId) : isNull(automationSessions.apiKeyId),
    inArray(automationSessions.status, [...ACTIVE_STATUSES]),
  );
}
