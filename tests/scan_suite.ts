/**
 * The secret scan after the whole suite (issue 15): `deno run -A tests/scan_suite.ts <GATEHOUSE_SCAN_DIR>`,
 * run by scripts/test.sh once `deno test` is done. It reads what tests/suite_scan.ts collected: the secrets the
 * server handed out or sent (tokens and tickets in its JSON answers, OTP codes of 6+ digits in SMS), every
 * line the server logged, and a dump of every test database. It fails when a collected token or ticket is
 * in a log line or a database, an OTP code is in a log line, or any JWT is in either; and when it collected
 * too little to mean anything. (OTP codes are not looked for in the dumps: six random digits also occur in
 * timestamps and odometer readings there; tests/secret_scan_test.ts checks its codes against its database.)
 * Prints one line `ok | 1 passed | 0 failed` (or FAILED) that .ci/run counts with the suite's.
 */
const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run -A tests/scan_suite.ts <dir>");
  Deno.exit(2);
}

const secrets = new Map<string, string>(); // value → kind
const logs: string[] = [];
const dumps: string[] = [];
for (const entry of Deno.readDirSync(dir)) {
  const text = Deno.readTextFileSync(`${dir}/${entry.name}`);
  if (entry.name.startsWith("secrets-")) {
    for (const line of text.split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) secrets.set(line.slice(tab + 1), line.slice(0, tab));
    }
  } else if (entry.name.startsWith("logs-")) logs.push(text);
  else if (entry.name.startsWith("db-")) dumps.push(text);
}

/** The words of `text`: runs of the characters tokens, tickets, JWTs and codes are made of. */
function words(text: string): Set<string> {
  return new Set(text.split(/[^A-Za-z0-9_.~-]+/));
}
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;

const found: string[] = [];
const places = [
  { where: "the logs", text: logs.join(""), codes: true },
  { where: "a database", text: dumps.join("\n"), codes: false },
];
let codes = 0;
for (const place of places) {
  const present = words(place.text);
  for (const [value, kind] of secrets) {
    const isCode = kind === "OTP code";
    if (isCode && !place.codes) continue;
    if (present.has(value)) found.push(`${kind} (${value.slice(0, 4)}…) in ${place.where}`);
  }
  const jwt = place.text.match(JWT);
  if (jwt) found.push(`a JWT (${jwt[0].slice(0, 12)}…) in ${place.where}`);
}
for (const kind of secrets.values()) if (kind === "OTP code") codes++;
const lines = logs.reduce((n, t) => n + t.split("\n").length - 1, 0);
const tokens = secrets.size - codes;
const summary =
  `${tokens} tokens and tickets, ${codes} OTP codes; ${lines} log lines, ${dumps.length} database dumps`;
// A scan that collected too little cannot fail: that is a failure of its own.
if (tokens < 100 || codes < 50 || lines < 5_000 || dumps.length < 100) {
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
