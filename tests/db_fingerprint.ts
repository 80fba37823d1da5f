/** Row counts and content checksums of every table, to show a run of requests changed nothing (or what). */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";

/** Tables, by name, that are append-only by design and left out of a comparison. */
export type Ignored = readonly string[];

/** `{ table: "rows:md5" }` for every table of the public schema except `ignore`. */
export async function dbFingerprint(db: Db, ignore: Ignored = []): Promise<Record<string, string>> {
  const tables = rowsOf(
    await db.execute(sql`select table_name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`),
  ).map((r) => String(r.table_name)).filter((name) => !ignore.includes(name));
  const out: Record<string, string> = {};
  for (const name of tables) {
    const [row] = rowsOf(
      await db.execute(sql.raw(`select count(*)::int as n,
        md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from "${name}" t`)),
    );
    out[name] = `${row.n}:${row.sum}`;
  }
  return out;
}

/** Every table's rows as text, one row a line (line breaks in values become spaces), for a scan of what is stored. */
export async function dbDump(db: Db): Promise<string> {
  const tables = rowsOf(
    await db.execute(sql`select table_name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`),
  ).map((r) => String(r.table_name));
  const parts: string[] = [];
  for (const name of tables) {
    const rows = rowsOf(await db.execute(sql.raw(`select t::text as row from "${name}" t`)));
    parts.push(`-- ${name}`, ...rows.map((r) => String(r.row).replace(/[\r\n]+/g, " ")));
  }
  return parts.join("\n");
}

function rowsOf(result: unknown): Record<string, unknown>[] {
  return (Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows);
}
