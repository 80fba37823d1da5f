/** The Flussonic check's fast path reads its three parameters exactly as URLSearchParams would. */
import assert from "node:assert/strict";
import { pickParams } from "../src/cameras/fast_path.ts";

function expected(query: string) {
  const q = new URLSearchParams(query);
  const pick = (k: string) => q.get(k) ?? undefined;
  return { token: pick("token"), qs: pick("qs"), name: pick("name") };
}

function clean(o: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

Deno.test("pickParams agrees with URLSearchParams on Flussonic queries and awkward ones", () => {
  const queries = [
    "name=gate-1&proto=hls&token=abc.def.ghi&qs=token%3Dabc.def.ghi&request_type=update_session",
    "token=a&token=b&name=first&name=second", // first occurrence wins
    "name=with+space&qs=a%2Bb%26c%3Dd", // + is a space, escapes decoded
    "name=bad%zzescape&token=%E0%A4%A", // malformed escapes stay lenient
    "=x&&name&token=&qs", // empty keys, missing values
    "na%6De=encoded-key&tok%65n=t", // percent-encoded keys
    "",
    "name=%F0%9F%93%B7&token=%00nul",
  ];
  for (const q of queries) assert.deepEqual(clean(pickParams(q)), clean(expected(q)), q);
});

Deno.test("pickParams agrees with URLSearchParams on random queries", () => {
  let seed = 42;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const alphabet = [
    "a",
    "n",
    "t",
    "q",
    "s",
    "=",
    "&",
    "%",
    "2",
    "B",
    "+",
    "name",
    "token",
    "qs",
    "%41",
    "%zz",
  ];
  for (let i = 0; i < 2000; i++) {
    let q = "";
    for (let j = rnd(30); j > 0; j--) q += alphabet[rnd(alphabet.length)];
    assert.deepEqual(clean(pickParams(q)), clean(expected(q)), q);
  }
});
