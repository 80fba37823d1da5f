/**
 * The login sessions every authenticated request checks, kept in memory so a warm request makes no
 * database round trip, while a logout still takes effect on every instance at once:
 * - a login session's owner never changes, so it is read once (the first request naming it) and kept;
 * - revocations (logout, refresh-token reuse, admin) are broadcast on the NOTIFY channel AUTH_CHANNEL by
 *   revokeSession, in the database's own transaction order, and applied here by every instance;
 * - when the channel is (re)established, the sessions revoked within the longest token life are read
 *   again, so an instance whose listen connection dropped catches up with what it missed.
 * Correctness never depends on what is cached: anything evicted is simply read again from the database.
 */
import { readNotice } from "../notices.ts";
import { addToKeyedSet } from "../keyed_sets.ts";
import { eq, gt } from "drizzle-orm";
import type { DbHandle } from "../../db/client.ts";
import { authSessions, users } from "../../db/schema.ts";
import { makeRoom } from "../bounded.ts";
import type { Deps } from "../deps.ts";

/** The NOTIFY channel that carries login-session revocations between instances. */
export const AUTH_CHANNEL = "gatehouse_auth";

/** What a revocation broadcast carries (ids only, never a token). */
export interface RevocationMessage {
  session_id: string;
  user_id: string;
  reason: string;
}

/** The login a valid access token stands for. */
export interface ActiveLogin {
  userId: string;
  phone: string;
}

interface Entry {
  revoked: boolean;
  userId?: string;
  phone?: string;
}

/** Seconds of revocations read again on (re)listen: the longest life of any token naming a login session. */
function catchUpWindowS(config: Deps["config"]): number {
  return Math.max(config.ACCESS_TOKEN_TTL_S, config.CAMERA_TOKEN_TTL_MIN * 60, 60) + 60;
}

/** In-memory login-session state of one instance; `listen` joins the cluster-wide revocation broadcast. */
export class LoginSessions implements AsyncDisposable {
  readonly #deps: Pick<Deps, "db" | "clock" | "config" | "events" | "log">;
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<Entry>>();
  readonly #watchers = new Map<string, Set<(reason: string) => void>>();
  readonly #max: number;
  readonly #offLocal: () => void;
  #unlisten?: () => Promise<void>;

  constructor(
    deps: Pick<Deps, "db" | "clock" | "config" | "events" | "log">,
    options: { max?: number } = {},
  ) {
    this.#deps = deps;
    this.#max = options.max ?? 100_000;
    // Revocations made by this instance apply before the broadcast comes back.
    this.#offLocal = deps.events.on(
      "auth.session_revoked",
      (e) => this.revoke(String(e.data.session_id), String(e.data.reason ?? "revoked")),
    );
  }

  /** Joins the revocation broadcast on `handle`; resolves once listening and caught up. */
  async listen(handle: Pick<DbHandle, "listen">): Promise<void> {
    let first!: () => void;
    const caughtUp = new Promise<void>((resolve) => (first = resolve));
    this.#unlisten = await handle.listen(AUTH_CHANNEL, (payload) => this.#onMessage(payload), () => {
      this.catchUp().then(first, (err) => {
        this.#deps.log.error("login sessions: catch-up after listen failed", { error: err });
        // Nothing cached can be trusted now: forget it all, every login is read again.
        this.#entries.clear();
        first();
      });
    });
    await caughtUp;
  }

  /** Reads the sessions revoked within the catch-up window and applies them (on start and on reconnect). */
  async catchUp(): Promise<void> {
    const since = new Date(this.#deps.clock.now().getTime() - catchUpWindowS(this.#deps.config) * 1000);
    const rows = await this.#deps.db.select({ id: authSessions.id, reason: authSessions.revokeReason })
      .from(authSessions).where(gt(authSessions.revokedAt, since));
    for (const r of rows) this.revoke(r.id, r.reason ?? "revoked");
  }

  /**
   * The login `sessionId` if it is active and belongs to `userId` (the token's `sub`), else null.
   * Warm: two map lookups. Cold (first sight of this session on this instance): one query.
   */
  async check(sessionId: string, userId: string): Promise<ActiveLogin | null> {
    const entry = this.#entries.get(sessionId) ?? await this.#load(sessionId);
    if (entry.revoked || entry.userId !== userId) return null;
    return { userId: entry.userId, phone: entry.phone! };
  }

  /** Marks `sessionId` revoked here and ends what watches it (sockets, streams). Idempotent. */
  revoke(sessionId: string, reason: string): void {
    const entry = this.#entries.get(sessionId);
    if (entry) entry.revoked = true;
    else this.#put(sessionId, { revoked: true });
    const watchers = this.#watchers.get(sessionId);
    if (!watchers) return;
    this.#watchers.delete(sessionId);
    for (const fn of watchers) {
      try {
        fn(reason);
      } catch (err) {
        this.#deps.log.error("login sessions: revocation watcher failed", { error: err });
      }
    }
  }

  /** True when `sessionId` is known here to be revoked (no database read; media auth's fast deny). */
  isRevoked(sessionId: string): boolean {
    return this.#entries.get(sessionId)?.revoked === true;
  }

  /** Calls `onRevoke` once if `sessionId` is revoked (anywhere) while watched; returns the unwatch function. */
  watch(sessionId: string, onRevoke: (reason: string) => void): () => void {
    if (this.#entries.get(sessionId)?.revoked) {
      queueMicrotask(() => onRevoke("revoked"));
      return () => {};
    }
    return addToKeyedSet(this.#watchers, sessionId, onRevoke);
  }

  /** Counts for metrics and tests. */
  stats(): { entries: number; watched: number } {
    return { entries: this.#entries.size, watched: this.#watchers.size };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#offLocal();
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  #onMessage(payload: string): void {
    const msg = readNotice<RevocationMessage>(payload);
    if (!msg) return this.#deps.log.warn("login sessions: unreadable broadcast ignored");
    if (typeof msg.session_id === "string") this.revoke(msg.session_id, String(msg.reason ?? "revoked"));
  }

  #load(sessionId: string): Promise<Entry> {
    const pending = this.#loading.get(sessionId);
    if (pending) return pending;
    const promise = (async () => {
      const [row] = await this.#deps.db.select({
        userId: authSessions.userId,
        revokedAt: authSessions.revokedAt,
        phone: users.phone,
      }).from(authSessions).innerJoin(users, eq(users.id, authSessions.userId))
        .where(eq(authSessions.id, sessionId)).limit(1);
      // A revocation that arrived while this read was in flight wins over what the read saw.
      const revoked = !row || !!row.revokedAt || !!this.#entries.get(sessionId)?.revoked;
      const entry: Entry = { revoked, userId: row?.userId, phone: row?.phone };
      // Unknown ids are not kept: garbage tokens must not fill the map (they are signed, so rare anyway).
      if (row) this.#put(sessionId, entry);
      return entry;
    })();
    this.#loading.set(sessionId, promise);
    promise.finally(() => this.#loading.delete(sessionId)).catch(() => {});
    return promise;
  }

  #put(sessionId: string, entry: Entry): void {
    makeRoom(this.#entries, this.#max); // a dropped login is read again on its next request
    this.#entries.set(sessionId, entry);
  }
}
