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

/** Enough of everything that the scan means something: 120 tokens, 60 codes, 6,000 log lines, 120 dumps. */
function plenty(): Record<string, string> {
  const files: Record<string, string> = {};
  const tokens = Array.from({ length: 120 }, (_, i) => `refresh_token\tRt${i}-${crypto.randomUUID()}`);
  const codes = Array.from({ length: 60 }, (_, i) => `OTP code\t${String(100000 + i * 7919)}`);
  files["secrets-a.tsv"] = [...tokens, ...codes].join("\n") + "\n";
  files["logs-a.jsonl"] = Array.from({ length: 6000 }, (_, i) => `{"msg":"request","status":200,"n":${i}}`)
    .join("\n") + "\n";
  for (let i = 0; i < 120; i++) files[`db-${i}.txt`] = `-- users\n(${crypto.randomUUID()},+36201234567)`;
  return files;
}

Deno.test("the suite scan passes a clean run and prints a summary line .ci/run counts", async () => {
  const { code, out } = await scan(plenty());
  assert.equal(code, 0, out);
  assert.match(out, /^ok \| 1 passed \| 0 failed$/m);
});

Deno.test("the suite scan fails on a recorded token in a database, a code or a JWT in a log line", async () => {
  const files = plenty();
  const token = files["secrets-a.tsv"].split("\n")[3].split("\t")[1];
  const code = files["secrets-a.tsv"].split("\n")[130].split("\t")[1];
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
  for (
    const [what, leak] of [
      ["a token in a dump", { dump: `-- sessions\n(1,"{""url"":""http://x/?t=${token}""}")` }],
      ["a code in the logs", { log: `{"msg":"sms","text":"Your code is ${code}"}\n` }],
      ["a JWT in the logs", { log: `{"msg":"request","auth":"Bearer ${jwt}"}\n` }],
    ] as const
  ) {
    const leaky = { ...files };
    if ("dump" in leak) leaky["db-leak.txt"] = leak.dump;
    if ("log" in leak) leaky["logs-a.jsonl"] += leak.log;
    const { code: exit, out } = await scan(leaky);
    assert.equal(exit, 1, `${what}: ${out}`);
    assert.match(out, /FAILED \| 0 passed \| 1 failed/, what);
  }
});

Deno.test("the suite scan fails when it collected too little to mean anything", async () => {
  const { code, out } = await scan({ "logs-a.jsonl": "{}\n" });
  assert.equal(code, 1);
  assert.match(out, /too little collected/);
});
