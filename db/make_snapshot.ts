/** `deno task db:snapshot`: writes the pre-migrated PGlite snapshot an empty DATA_DIR starts from (db/snapshot.ts). */
import { migrationsFolder, usePglite } from "./client.ts";
import { snapshotFiles, usableSnapshot, writeSnapshot } from "./snapshot.ts";

// --if-missing (deno task start): nothing to do when a snapshot of these migrations exists
if (Deno.args.includes("--if-missing") && await usableSnapshot(migrationsFolder)) Deno.exit(0);
const started = performance.now();
await writeSnapshot(migrationsFolder, async (pg) => void await usePglite(pg, { location: "snapshot" }));
console.log(`wrote ${snapshotFiles.data} in ${Math.round(performance.now() - started)} ms`);
