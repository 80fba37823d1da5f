/** Opens the database: embedded PGlite by default, a real Postgres when DATABASE_URL names one. */
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import postgres from "postgres";
import * as schema from "./schema.ts";
import { copySnapshot, usableSnapshot } from "./snapshot.ts";

/** The Drizzle database every domain module receives; the same type for PGlite and Postgres. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open database and the function that closes it. */
export interface DbHandle {
  db: Db;
  kind: "pglite" | "postgres";
  /** Where the data lives: a folder, `memory:` or the Postgres URL without its password. */
  location: string;
  /** cluster: the instance id its Postgres connections carry as application_name (`gatehouse:<id>`). */
  instance?: string;
  /**
   * Listens on a NOTIFY channel (lower-case name); `onListen` runs each time the listen is (re)established,
   * so a caller can reload what it missed while the channel was down. Resolves to the unlisten function.
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>>;
  /** Sends `payload` (under 8000 bytes) to every listener of `channel` on every instance. */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where the committed migrations live. */
export const migrationsFolder = new URL("./migrations", import.meta.url).pathname;

/** How long a Postgres connection attempt may take (s) and a statement may run (ms; 0 = no limit). */
export interface DbTimeouts {
  connectTimeoutS?: number;
  statementTimeoutMs?: number;
}

/**
 * Opens the database named by `url` (unset: PGlite in `dataDir`; `memory:`: in-memory PGlite) and migrates it.
 * A Postgres that is down fails a query within `connectTimeoutS` (refused connections at once), and a
 * statement stuck behind a lock or a dying server within `statementTimeoutMs`: errors the app answers 503.
 */
export async function createDb(
  options: { url?: string; dataDir?: string; poolSize?: number; instance?: string } & DbTimeouts,
): Promise<DbHandle> {
  const url = options.url;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    surviveClosedSocketWrites();
    const client = postgres(url, {
      max: options.poolSize ?? 10,
      onnotice: () => {},
      connect_timeout: options.connectTimeoutS ?? 2,
      // seconds before reconnecting after a failed connection; postgres.js's default grows to 20 s, and
      // every query waits for it: a down database hung requests 13 s and was seen back 11 s late
      backoff: (retries: number) => Math.min(0.05 * retries, 0.5),
      // idle connections are dropped, so a restarted server is not first met through a dead socket
      idle_timeout: 30,
      connection: {
        statement_timeout: options.statementTimeoutMs ?? 10_000,
        // cluster: every connection names its instance, so others can tell it is alive (pg_stat_activity)
        ...(options.instance ? { application_name: `gatehouse:${options.instance}` } : {}),
      },
    });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    // migrations run on a connection of their own without the statement timeout (an index on a big table)
    const migrator = postgres(url, {
      max: 1,
      onnotice: () => {},
      connect_timeout: options.connectTimeoutS ?? 2,
    });
    try {
      await migratePostgres(drizzlePostgres(migrator) as never, { migrationsFolder });
    } catch (err) {
      await client.end({ timeout: 1 });
      throw err;
    } finally {
      await migrator.end({ timeout: 5 });
    }
    const close = () => client.end({ timeout: 5 });
    return {
      db,
      kind: "postgres",
      location: redact(url),
      instance: options.instance,
      // postgres.js keeps a dedicated listen connection and re-listens after it reconnects (calling onlisten).
      listen: async (channel, onMessage, onListen) => {
        const { unlisten } = await client.listen(channel, onMessage, onListen);
        return async () => await unlisten().catch(() => {});
      },
      notify: async (channel, payload) => void await client.notify(channel, payload),
      close,
      [Symbol.asyncDispose]: close,
    };
  }
  const memory = url === "memory:" || url === "memory://";
  if (url && !memory) {
    throw new Error(`Cannot open database: unsupported DATABASE_URL scheme in ${redact(url)}`);
  }
  const dataDir = memory ? undefined : `${options.dataDir ?? "./data"}/pglite`;
  if (dataDir) await Deno.mkdir(dataDir, { recursive: true });
  // An empty folder starts from the pre-migrated snapshot (db/snapshot.ts), when one matches the migrations.
  if (dataDir && !(await exists(`${dataDir}/PG_VERSION`))) {
    const snapshot = await usableSnapshot(migrationsFolder);
    if (snapshot) await copySnapshot(snapshot, dataDir);
  }
  const client = await PGlite.create(dataDir);
  return await usePglite(client, { location: dataDir ?? "memory:" });
}

/** Wraps an open PGlite instance (e.g. a test's clone), migrates it unless told not to, and owns its closing. */
export async function usePglite(
  client: PGlite,
  options: { location?: string; migrate?: boolean } = {},
): Promise<DbHandle> {
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  if (options.migrate !== false) {
    try {
      await migratePglite(db as never, { migrationsFolder });
    } catch (err) {
      await client.close();
      throw err;
    }
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.close();
  };
  return {
    db,
    kind: "pglite",
    location: options.location ?? "memory:",
    // PGlite is one in-process connection: LISTEN/NOTIFY work within it and the channel is never lost.
    listen: async (channel, onMessage, onListen) => {
      const off = await client.listen(channel, onMessage);
      onListen?.();
      return async () => {
        if (!closed) await off().catch(() => {});
      };
    },
    notify: async (channel, payload) =>
      void await client.query("select pg_notify($1, $2)", [channel, payload]),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable url)";
  }
}

let guarded = false;

/**
 * postgres.js 3.4.9 may write to a connection's socket from a `setImmediate` after the server closed it
 * (a restart, a terminated backend): an uncaught TypeError that would end the process. The query it
 * belonged to was already rejected with CONNECTION_CLOSED, so this one error is dropped (once per process).
 * https://github.com/porsager/postgres/issues/1154 (fixes pending: #1168, #1176, #1209); denoland/deno#34667
 */
function surviveClosedSocketWrites(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    const err = event.error;
    if (
      err instanceof TypeError && /reading 'write'/.test(err.message) &&
      /postgres\/src\/connection\.js/.test(err.stack ?? "")
    ) {
      event.preventDefault();
    }
  });
}
