/**
 * The secret scan after the whole suite (issue 15): `deno run -A tests/scan_suite.ts <GATEHOUSE_SCAN_DIR>`,
 * run by tests/run_suite.ts once `deno test` is done. It reads what tests/suite_scan.ts collected: the secrets the
 * server handed out or sent (tokens and tickets in its JSON answers, the OTP codes it texted and to which
 * phone), every line it logged and a dump of every test database. It fails when a collected token or ticket is
 * in a log line or a database, an OTP code is stored or logged in clear (see `leaksCode`), or any JWT is in
 * either; and when it collected too little to mean anything. Prints one line `ok | 1 passed | 0 failed` (or
 * FAILED) that .ci/run counts with the suite's.
 */
const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run -A tests/scan_suite.ts <dir>");
  Deno.exit(2);
}

const secrets = new Map<string, string>(); // value → kind
const codes: { scope: string; phone: string; code: string }[] = [];
const logs = new Map<string, string>(); // a test app's scope (or a worker's id) → its log lines
const dumps = new Map<string, string>(); // a test app's scope → its database's dump
const add = (map: Map<string, string>, key: string, text: string) =>
  map.set(key, (map.get(key) ?? "") + text);
for (const entry of Deno.readDirSync(dir)) {
  const text = Deno.readTextFileSync(`${dir}/${entry.name}`);
  const lines = text.split("\n").map((line) => line.split("\t"));
  if (entry.name.startsWith("secrets-")) {
    for (const [kind, value] of lines) if (value) secrets.set(value, kind);
  } else if (entry.name.startsWith("codes-")) {
    for (const [scope, phone, code] of lines) if (code) codes.push({ scope, phone, code });
  } else if (entry.name.startsWith("logs-")) add(logs, entry.name.slice(5, -6), text);
  else if (entry.name.startsWith("db-")) add(dumps, entry.name.slice(3, -4), `${text}\n`);
}

/** The words of `text`: runs of the characters tokens, tickets, JWTs and codes are made of. */
function words(text: string): Set<string> {
  return new Set(text.split(/[^A-Za-z0-9_.~-]+/));
}
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;

/**
 * Whether `code` is in clear in `text` (one test app's dump, a row a line, or its log), on a line that holds
 * `phone` when one is given. A 4-digit code alone cannot be searched for: in a whole suite's dumps and logs
 * nearly every 4-digit number occurs by chance (years, ports, amounts, ids). So a code counts only in
 * context: (1) in the dump and log of the one test app that texted it (its scope), where few numbers are;
 * (2) as a value of its own, not digits inside something longer: not next to a letter, a digit, `_`, `.`,
 * `+`, `-`, `/` or `\`, nor after a `:` other than JSON's `":`, nor before a `.`, `:`, `-` or `/` that a digit
 * follows; so "4821" is found in `(+79161234567,4821,0)`, `{"code":"4821"}` or `Your code is 4821.`, but not
 * in 148210, 2026-01-01 04:21:00, 52.4821, 127.0.0.1:4821 or a UUID; (3) in a dump, on a row that also holds
 * the phone it was texted to, as any table keeping a code for checking must (otp_codes is keyed by phone).
 * Logs need no phone: gatehouse never logs one, and a test app's log lines hold few numbers besides statuses
 * and fractional durations. A chance hit then needs an unrelated value of exactly the code's digits, on a row
 * with that phone, in the one database the code was made for.
 */
function leaksCode(text: string, code: string, phone?: string): boolean {
  const digits = phone?.replace(/\D/g, "") ?? "";
  // in a log line, where no phone narrows the search, a bare JSON number (`"n":4821`, a count or a size) is
  // no code: the server handles codes as strings, so a logged code is quoted or inside a message's text
  const before = phone ? `[\\w.+\\-/\\\\]|[^"]:` : `[\\w.+\\-/\\\\:]`;
  const alone = new RegExp(`(?<!${before})${code}(?![\\w]|[.:\\-/]\\d)`);
  return text.split("\n").some((line) => line.includes(digits) && alone.test(line));
}

const found: string[] = [];
const allLogs = [...logs.values()].join("");
for (
  const place of [{ where: "the logs", text: allLogs }, {
    where: "a database",
    text: [...dumps.values()].join("\n"),
  }]
) {
  const present = words(place.text);
  for (const [value, kind] of secrets) {
    if (present.has(value)) found.push(`${kind} (${value.slice(0, 4)}…) in ${place.where}`);
  }
  const jwt = place.text.match(JWT);
  if (jwt) found.push(`a JWT (${jwt[0].slice(0, 12)}…) in ${place.where}`);
}
const logWords = words(allLogs);
for (const { scope, phone, code } of codes) {
  // a code of 6+ digits is rare enough to look for as a word in every log line
  if (code.length >= 6 && logWords.has(code)) found.push(`an OTP code (${code.slice(0, 2)}…) in the logs`);
  if (leaksCode(dumps.get(scope) ?? "", code, phone)) {
    found.push(`an OTP code (${code.slice(0, 2)}…) in its database`);
  }
  if (leaksCode(logs.get(scope) ?? "", code)) found.push(`an OTP code (${code.slice(0, 2)}…) in its logs`);
}
const short = codes.filter((c) => c.code.length < 6).length;
const lines = allLogs.split("\n").length - 1;
const summary = `${secrets.size} tokens and tickets, ${codes.length} OTP codes (${short} of 4–5 digits); ` +
  `${lines} log lines, ${dumps.size} database dumps`;
// A scan that collected too little cannot fail: that is a failure of its own.
if (secrets.size < 100 || codes.length < 50 || short < 10 || lines < 5_000 || dumps.size < 100) {
  found.push(`too little collected (${summary})`);
}

if (found.length) {
  console.log(`secret scan: ${found.length} finding(s) after the suite (${summary}):`);
  for (const f of found.slice(0, 50)) console.log(`  ${f}`);
  console.log("FAILED | 0 passed | 1 failed");
  Deno.exit(1);
}
console.log(`secret scan after the suite: clean (${summary})`);
console.log("ok | 1 passed | 0 failed");
