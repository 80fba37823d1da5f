/**
 * A pre-migrated embedded database: an empty DATA_DIR starts from this PGlite snapshot (dumpDataDir) instead of
 * running initdb and every migration, then migrates only what is newer. Made at build or first-install time:
 *
 *   deno task db:snapshot     # db/make_snapshot.ts: db/pglite_snapshot.tar.gz and .json (gitignored)
 *
 * The sidecar lists the migrations inside (tag and SHA-256 of the SQL); the snapshot is used only when that
 * list is a prefix of the current journal, so regenerated or edited migrations never start from a stale one.
 */
import { PGlite } from "@electric-sql/pglite";
import { sha256Hex } from "../src/crypto.ts";

const here = new URL(".", import.meta.url).pathname;
/** The snapshot tarball and its sidecar. */
export const snapshotFiles = { data: `${here}pglite_snapshot.tar.gz`, meta: `${here}pglite_snapshot.json` };

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

/** The snapshot, if there is one whose migrations are a prefix of the current ones; otherwise undefined. */
export async function usableSnapshot(migrationsFolder: string): Promise<Blob | undefined> {
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
    return new Blob([await Deno.readFile(snapshotFiles.data)]);
  } catch {
    return undefined;
  }
}

/** Writes the snapshot of a freshly migrated in-memory database (`migrate` runs the migrations). */
export async function writeSnapshot(
  migrationsFolder: string,
  migrate: (pg: PGlite) => Promise<void>,
): Promise<void> {
  const pg = await PGlite.create();
  try {
    await migrate(pg);
    const blob = await pg.dumpDataDir("gzip");
    await Deno.writeFile(`${snapshotFiles.data}.part`, new Uint8Array(await blob.arrayBuffer()));
    await Deno.writeTextFile(
      `${snapshotFiles.meta}.part`,
      JSON.stringify({ migrations: await currentMigrations(migrationsFolder) }, null, 2) + "\n",
    );
    await Deno.rename(`${snapshotFiles.data}.part`, snapshotFiles.data);
    await Deno.rename(`${snapshotFiles.meta}.part`, snapshotFiles.meta);
  } finally {
    await pg.close();
  }
}
