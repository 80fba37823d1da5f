/**
 * The whole-suite secret scan's collection (issue 15): while GATEHOUSE_SCAN_DIR is set (tests/run_suite.ts sets
 * it for a whole-suite run), the test helpers record every secret the server hands out or sends (tokens in
 * JSON answers, OTP codes in SMS with the phone they went to), every line the server logs, and a dump of every
 * test database before it is dropped. A test app's codes, log lines and database share a `scope` (its own
 * id), so the scan looks for a code only where that test could have put it. tests/scan_suite.ts reads them
 * after the suite and fails on a secret in clear.
 */
import type { Db } from "../db/client.ts";
import { dbDump } from "./db_fingerprint.ts";

const dir = Deno.env.get("GATEHOUSE_SCAN_DIR");
const id = crypto.randomUUID(); // one set of files per module instance (test worker)

function append(file: string, text: string): void {
  if (!dir) return;
  try {
    Deno.writeTextFileSync(`${dir}/${file}`, text, { append: true });
  } catch {
    // the scan then finds too little and says so; a test never fails for it
  }
}

/** JSON keys whose string values are credentials. */
const SECRET_KEY = /(^|_)(token|access_token|refresh_token|ticket|secret|password|api_key)$/i;
/** Credentials carried in URLs the server hands out (`ws_url`'s ticket, share links). */
const URL_SECRET = /[?&#/](?:ticket|token|share)[=/]([A-Za-z0-9_.~-]{16,})/g;

/** Records a secret (`kind` names it in the report); only values of 6+ characters are worth a scan. */
export function recordSecret(kind: string, value: string): void {
  if (dir && value.length >= 6 && !/[\t\n]/.test(value)) append(`secrets-${id}.tsv`, `${kind}\t${value}\n`);
}

/** Records an OTP code texted to `phone` by the test app of `scope` (codes of every length: 4 digits too). */
export function recordCode(scope: string, phone: string, code: string): void {
  if (dir && /^\d+$/.test(code)) append(`codes-${id}.tsv`, `${scope}\t${phone}\t${code}\n`);
}

/** Records one line the server logged, in the file of its test app's `scope` when it has one. */
export function recordLogLine(line: string, scope?: string): void {
  if (dir) append(`logs-${scope ?? id}.jsonl`, line + "\n");
}

/** Records what a test database holds, before it is dropped (in the file of its test app's `scope`). */
export async function recordDatabase(db: Db, scope: string = crypto.randomUUID()): Promise<void> {
  if (!dir) return;
  try {
    append(`db-${scope}.txt`, await dbDump(db));
  } catch {
    // a database the test broke on purpose (the fault test) or closed already
  }
}

/** Records the credentials in a JSON answer of the server (a copy is read; the answer is untouched). */
export function recordAnswer(res: Response): Response {
  // Credentials come in successful answers; an error's body is left alone (a 408 to a body that never
  // arrived must close its connection, which a copy of its body held open).
  if (!dir || res.status >= 300 || !res.headers.get("content-type")?.includes("json") || !res.body) {
    return res;
  }
  res.clone().json().then((body) => walk(body, ""), () => {});
  return res;
}

/** A UUID is an identifier (a session's, shown in its URLs and logs by design), never one of our secrets. */
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function walk(value: unknown, key: string): void {
  if (typeof value === "string") {
    // Credentials gatehouse makes are JWTs or 16+ random characters; shorter values are a test's own input
    // echoed back (`"token": "no-such-token"` in a 404), and the legacy tax portal's `token` is the session id.
    if (SECRET_KEY.test(key) && value.length >= 16 && !UUID.test(value)) recordSecret(key, value);
    for (const m of value.matchAll(URL_SECRET)) recordSecret(`${key} (in a URL)`, m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) walk(v, key);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walk(v, k);
  }
}
