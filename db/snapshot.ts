/**
 * A pre-migrated embedded database: an empty DATA_DIR starts from a copy of this PGlite data directory instead
 * of running initdb and every migration, then migrates only what is newer. Made at build or first-install time:
 *
 *   deno task db:snapshot     # db/make_snapshot.ts: db/pglite_snapshot/ and db/pglite_snapshot.json (gitignored)
 *
 * The sidecar lists the migrations inside (tag and SHA-256 of the SQL); the snapshot is used only when that
 * list is a prefix of the current journal, so regenerated or edited migrations never start from a stale one.
 * A plain directory (not `dumpDataDir`'s tarball): copying ~40 MB of files takes ~50 ms, while unpacking the
 * tarball through PGlite's file system took ~1.7 s (measured on the 2-core CI machine).
 */
import { cp, rm } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { sha256Hex } from "../src/crypto.ts";

const here = new URL(".", import.meta.url).pathname;
/** The snapshot's data directory and its sidecar. */
export const snapshotFiles = { data: `${here}pglite_snapshot`, meta: `${here}pglite_snapshot.json` };

interface MigrationId {
  tag: string;
  sha256: string;
}

/** The committed migrations, in order, each with the hash of its SQL. */
export async function currentMigrations(migrationsFolder: string): Promise<MigrationId[]> {
  const journal = JSON.parse(await Deno.readTextFile(`${migrationsFolder}/meta/_journal.json`)) as {
    entries: { tag: string }[];
  };
  return await Promise.all(journal.entries.map(async ({ tag }) => {
    return { tag, sha256: sha256Hex(await Deno.readTextFile(`${migrationsFolder}/${tag}.sql`)) };
  }));
}

/** The snapshot's directory, if there is one whose migrations are a prefix of the current ones. */
export async function usableSnapshot(migrationsFolder: string): Promise<string | undefined> {
  let inside: MigrationId[];
  try {
    inside = JSON.parse(await Deno.readTextFile(snapshotFiles.meta)).migrations;
  } catch {
    return undefined; // none made yet
  }
  const now = await currentMigrations(migrationsFolder);
  const prefix = inside.length <= now.length &&
    inside.every((m, i) => m.tag === now[i].tag && m.sha256 === now[i].sha256);
  if (!prefix) return undefined;
  try {
    await Deno.stat(`${snapshotFiles.data}/PG_VERSION`);
    return snapshotFiles.data;
  } catch {
    return undefined;
  }
}

/** Copies the snapshot directory into the (empty) data directory `dataDir`. */
export async function copySnapshot(snapshot: string, dataDir: string): Promise<void> {
  await cp(snapshot, dataDir, { recursive: true });
}

/** Writes the snapshot: a fresh PGlite data directory that `migrate` migrated, then closed. */
export async function writeSnapshot(
  migrationsFolder: string,
  migrate: (pg: PGlite) => Promise<void>,
): Promise<void> {
  const part = `${snapshotFiles.data}.part`;
  await rm(part, { recursive: true, force: true });
  const pg = await PGlite.create(part);
  try {
    await migrate(pg);
  } finally {
    await pg.close();
  }
  await Deno.writeTextFile(
    `${snapshotFiles.meta}.part`,
    JSON.stringify({ migrations: await currentMigrations(migrationsFolder) }, null, 2) + "\n",
  );
  await rm(snapshotFiles.meta, { force: true }); // no sidecar while the directory is swapped
  await rm(snapshotFiles.data, { recursive: true, force: true });
  await Deno.rename(part, snapshotFiles.data);
  await Deno.rename(`${snapshotFiles.meta}.part`, snapshotFiles.meta);
}
