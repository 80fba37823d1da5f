/** The whole-suite secret scan (tests/scan_suite.ts) finds what it should, and refuses to pass on too little. */
import assert from "node:assert/strict";

const scanner = new URL("./scan_suite.ts", import.meta.url).pathname;

/** Writes a scan folder like tests/suite_scan.ts does and runs the scanner on it. */
async function scan(files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-scan-test-" });
  try {
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
    const { code, stdout } = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", scanner, dir] })
      .output();
    return { code, out: new TextDecoder().decode(stdout) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const PHONE = "+79161234567";
/** The test app that texted CODE (4 digits) and LONG_CODE (6 digits) to PHONE. */
const SCOPE = "scope-0";
const CODE = "4821";
const LONG_CODE = "482113";

/** A dump of SCOPE's database as tests/db_fingerprint.ts writes it, with `rows` added to its otp_codes. */
function dump(...rows: string[]): string {
  return [
    "-- otp_codes",
    `(${PHONE},059ad913191882706908bdcab837bc69d8fded2deeabff4fa77fe0d8c4939b4e,0,"2026-01-01 00:00:00+00")`,
    ...rows,
    "-- users",
    `(0764a71b-6025-42f0-9e11-bbfe42b25cb4,${PHONE},"2026-01-01 00:01:01+00")`,
  ].join("\n");
}

/** Enough of everything that the scan means something: 120 tokens, 60 codes (30 of 4 digits), 6,000 log
 * lines, 120 dumps; CODE and LONG_CODE were texted by SCOPE, whose database holds only their hashes. */
function plenty(): Record<string, string> {
  const files: Record<string, string> = {};
  files["secrets-a.tsv"] =
    Array.from({ length: 120 }, (_, i) => `refresh_token\tRt${i}-${crypto.randomUUID()}`)
      .join("\n") + "\n";
  const codes = Array.from({ length: 58 }, (_, i) => String(i < 29 ? 1000 + i * 311 : 100000 + i * 7919));
  files["codes-a.tsv"] =
    [...codes.map((c, i) => `scope-${i + 1}\t${PHONE}\t${c}`), `${SCOPE}\t${PHONE}\t${CODE}`]
      .concat(`${SCOPE}\t${PHONE}\t${LONG_CODE}`).join("\n") + "\n";
  files["logs-a.jsonl"] = Array.from({ length: 6000 }, (_, i) => `{"msg":"request","status":200,"n":${i}}`)
    .join("\n") + "\n";
  for (let i = 1; i < 120; i++) {
    files[`db-scope-${i}.txt`] = `-- users\n(${crypto.randomUUID()},+36201234567)`;
  }
  files[`db-${SCOPE}.txt`] = dump();
  return files;
}

/** Runs the scan on plenty() with `change` applied; answers whether it failed. */
async function fails(
  change: (files: Record<string, string>) => void,
): Promise<{ failed: boolean; out: string }> {
  const files = plenty();
  change(files);
  const { code, out } = await scan(files);
  assert.match(out, code === 0 ? /^ok \| 1 passed \| 0 failed$/m : /FAILED \| 0 passed \| 1 failed/, out);
  assert.doesNotMatch(out, /too little collected/); // plenty() is enough: a failure is a finding
  return { failed: code !== 0, out };
}

Deno.test("the suite scan passes a clean run and prints a summary line .ci/run counts", async () => {
  const { failed, out } = await fails(() => {});
  assert.equal(failed, false, out);
  assert.match(out, /60 OTP codes \(30 of 4–5 digits\)/);
});

Deno.test("the suite scan fails on a recorded token in a database, a code or a JWT in a log line", async () => {
  const token = (f: Record<string, string>) => f["secrets-a.tsv"].split("\n")[3].split("\t")[1];
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
  for (
    const [what, change] of [
      [
        "a token in a dump",
        (f) => f["db-leak.txt"] = `-- sessions\n(1,"{""url"":""http://x/?t=${token(f)}""}")`,
      ],
      ["a 6-digit code in any log", (f) => f["logs-a.jsonl"] += `{"msg":"sms","text":"Code ${LONG_CODE}"}\n`],
      [
        "a 4-digit code in its test's log",
        (f) => f[`logs-${SCOPE}.jsonl`] = `{"msg":"sms","code":"${CODE}"}\n`,
      ],
      ["a JWT in the logs", (f) => f["logs-a.jsonl"] += `{"msg":"request","auth":"Bearer ${jwt}"}\n`],
    ] as [string, (f: Record<string, string>) => void][]
  ) {
    const { failed, out } = await fails(change);
    assert.ok(failed, `${what}: ${out}`);
  }
});

Deno.test("the suite scan fails on a 4-digit or a 6-digit code stored in clear in its test's database", async () => {
  for (
    const row of [
      `(${PHONE},${CODE},0,"2026-01-01 00:00:00+00")`, // a column of its own
      `(${PHONE},"{""code"": ""${CODE}""}")`, // a JSON member
      `(${PHONE},"Your code is ${CODE}.")`, // the text of the SMS
      `(${PHONE},${LONG_CODE},0,"2026-01-01 00:00:00+00")`,
      `(1,"{""to"": ""${PHONE}"", ""code"": ${LONG_CODE}}")`,
    ]
  ) {
    const { failed, out } = await fails((f) => f[`db-${SCOPE}.txt`] = dump(row));
    assert.ok(failed, `${row}: ${out}`);
    assert.match(out, /an OTP code \(48…\) in its database/);
  }
});

Deno.test("the same digits inside a longer number, a timestamp, a decimal, a port or a UUID are no finding", async () => {
  const { failed, out } = await fails((f) => {
    f[`db-${SCOPE}.txt`] = dump(
      `(${PHONE},148210,${LONG_CODE}7,"2026-01-01 04:48:21+00","2026-04-21 00:00:00+00",52.4821,-4821)`,
      `(${PHONE},http://127.0.0.1:4821/x,4821ab,a4821,482a-4821-4821-9e11-bbfe42b25cb4,1767225648211,4821.5)`,
    );
    f[`logs-${SCOPE}.jsonl`] =
      `{"msg":"request","duration_ms":48.21,"n":14821,"at":"2026-01-01T04:48:21Z","bytes":${CODE}}\n`;
    // the code as a value of its own, in a row without its phone, or in another test's database
    f["db-scope-7.txt"] = `-- invoices\n(${PHONE},${CODE},${LONG_CODE})`;
    f[`db-${SCOPE}.txt`] += `\n-- cameras\n(1,${CODE},door)`;
  });
  assert.equal(failed, false, out);
});

Deno.test("the suite scan fails when it collected too little to mean anything", async () => {
  const { code, out } = await scan({ "logs-a.jsonl": "{}\n" });
  assert.equal(code, 1);
  assert.match(out, /too little collected/);
});
