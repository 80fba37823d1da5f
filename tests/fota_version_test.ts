import assert from "node:assert/strict";
import { type Selectable, selectRelease } from "../src/fota/checks.ts";
import { inRollout, rolloutBucket } from "../src/fota/rollout.ts";
import {
  compareVersions,
  compareVersionStrings,
  parseVersion,
  versionKey,
  versionSortKey,
} from "../src/fota/version.ts";
import { imeis } from "./fota_fixtures.ts";

const sign = (a: string, b: string) => Math.sign(compareVersionStrings(a, b));

Deno.test("versions order numerically per segment: 1.10.0 > 1.9.2, 2 > 1.99.99, 10.0 > 9.9.9", () => {
  assert.equal(sign("1.10.0", "1.9.2"), 1);
  assert.equal(sign("1.9.2", "1.10.0"), -1);
  assert.equal(sign("2", "1.99.99"), 1);
  assert.equal(sign("10.0", "9.9.9"), 1);
  assert.equal(sign("1.2.10", "1.2.9"), 1);
  assert.equal(sign("2024.10.1", "2024.9.30"), 1);
  assert.equal(sign("1.2.3.4", "1.2.3"), 1);
  assert.equal(
    sign("99999999999999999999.0", "99999999999999999998.9"),
    1,
    "longer than a float's precision",
  );
});

Deno.test("the SemVer 2.0.0 §11 precedence example holds, pre-releases before their release", () => {
  const ordered = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1-0",
    "1.0.1",
    "1.2.0-beta.1",
    "1.2.0",
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(sign(ordered[i], ordered[j]), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
});

Deno.test("a leading v, build metadata and trailing zero segments do not change a version", () => {
  assert.equal(sign("v1.2.0", "1.2.0"), 0);
  assert.equal(sign("V1.2.0", "1.2.0"), 0);
  assert.equal(sign("1.2.0+build.7", "1.2.0+build.9"), 0);
  assert.equal(sign("1.2.0+build.7", "1.2.0"), 0);
  assert.equal(sign("1.2", "1.2.0"), 0);
  assert.equal(sign("01.02.03", "1.2.3"), 0);
  assert.equal(sign("1.2.0-beta.01", "1.2.0-beta.1"), 0);
  assert.equal(versionKey(parseVersion("v1.2.0+b7")!), "1.2");
  assert.equal(versionKey(parseVersion("1.2")!), "1.2");
  assert.equal(versionKey(parseVersion("0.0.0")!), "0");
  assert.equal(versionKey(parseVersion("1.0.0-rc.01+x")!), "1-rc.1");
  assert.equal(parseVersion("  v1.2.3-beta.1+exp.sha.5114f85 ")!.build, "exp.sha.5114f85");
});

Deno.test("mixed forms compare segment by segment: dotted numbers against SemVer", () => {
  assert.equal(sign("1.2", "1.2.1"), -1);
  assert.equal(sign("1.3", "1.2.9-rc.1"), 1);
  assert.equal(sign("1.2", "1.2.0-rc.1"), 1, "a dotted release is above a SemVer pre-release of it");
  assert.equal(sign("1.10", "v1.9.2"), 1);
  assert.equal(sign("3.9.12-SNAPSHOT-692c8fc", "3.9.12"), -1, "ESP version strings parse");
});

Deno.test("the sort key's byte order agrees with compareVersions on every pair, and keys agree with equality", () => {
  const pool = [
    "0",
    "0.0.1",
    "0.1",
    "1",
    "1.0.0-0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha-1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0-1a",
    "1.0.0-12",
    "1.0.0-1.2",
    "1.0.0",
    "1.0.1",
    "1.2",
    "v1.2.0+b",
    "1.2.0.1",
    "1.2.1-rc",
    "1.9.2",
    "1.10",
    "1.10.0-x.y.z",
    "2",
    "10.0",
    "3.9.12-SNAPSHOT-692c8fc",
    "3.9.12",
    "2024.06.01",
    "99999999999999999999",
  ];
  // Also random versions built from small parts, to hit boundaries the hand-picked list misses.
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const ids = ["0", "1", "2", "10", "a", "ab", "abc", "a-1", "B", "rc", "1a"];
  for (let i = 0; i < 300; i++) {
    const segs = Array.from({ length: 1 + rnd(4) }, () => String([0, 1, 2, 9, 10, 11, 100][rnd(7)]));
    const pre = rnd(2) ? `-${Array.from({ length: 1 + rnd(3) }, () => ids[rnd(ids.length)]).join(".")}` : "";
    pool.push(segs.join(".") + pre);
  }
  const parsed = pool.map((s) => parseVersion(s)!);
  const byte = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // UTF-16 order = byte order for ASCII
  for (const a of parsed) {
    for (const b of parsed) {
      const want = Math.sign(compareVersions(a, b));
      assert.equal(byte(versionSortKey(a), versionSortKey(b)), want, `${a.raw} vs ${b.raw}`);
      assert.equal(versionKey(a) === versionKey(b), want === 0, `${a.raw} vs ${b.raw} keys`);
    }
  }
});

Deno.test("strings that are not versions do not parse", () => {
  for (
    const bad of [
      "",
      " ",
      "abc",
      "1..2",
      "1.2.",
      ".1.2",
      "1.2.3-",
      "1.2.3+",
      "-1",
      "1.2.3-beta..1",
      "1.2.3_b4",
      "vv1",
      "1,2",
      "1.2 .3",
      "x".repeat(65),
      "1." + "1".repeat(63),
    ]
  ) {
    assert.equal(parseVersion(bad), null, JSON.stringify(bad));
  }
  assert.throws(() => compareVersionStrings("1.0", "nope"), /"nope" is not a version/);
});

Deno.test("the rollout bucket is stable per (device, release) and raising the percentage only adds devices", () => {
  const release = "3f1f3b9e-4a4c-4c57-9d0a-3c5c2a5f0b11";
  const devices = imeis(1000);
  const at = (p: number) => new Set(devices.filter((d) => inRollout(d, release, p)));
  const half = at(50);
  assert.ok(half.size >= 450 && half.size <= 550, `50% gave ${half.size} of 1000`);
  assert.deepEqual(at(50), half, "same answer on every evaluation");
  const seventy = at(70);
  assert.ok(seventy.size >= 650 && seventy.size <= 750, `70% gave ${seventy.size} of 1000`);
  for (const d of half) assert.ok(seventy.has(d), `${d} left the rollout when it grew`);
  assert.equal(at(0).size, 0);
  assert.equal(at(100).size, 1000);
  // Another release samples another cohort: no device is always first.
  const other = new Set(devices.filter((d) => inRollout(d, "0b6f7a52-1f5e-4d2e-8f3c-6e9b8a7d5c41", 50)));
  const overlap = [...half].filter((d) => other.has(d)).length;
  assert.ok(overlap > 180 && overlap < 320, `cohorts of two releases overlap by ${overlap}`);
  for (const d of devices.slice(0, 20)) {
    const b = rolloutBucket(d, release);
    assert.ok(Number.isInteger(b) && b >= 0 && b < 100);
  }
});

Deno.test("selection never offers an equal or lower version and picks the newest eligible", () => {
  const rel = (id: string, version: string, extra: Partial<Selectable> = {}): Selectable => ({
    id,
    version,
    minVersion: null,
    rolloutPercent: 100,
    ...extra,
  });
  const releases = [rel("a", "1.0.0"), rel("b", "1.1.0"), rel("c", "1.2.0-beta.1"), rel("d", "1.1.5")];
  const pick = (v: string) => selectRelease(releases, { id: "dev", version: parseVersion(v)! });
  assert.equal(pick("1.0.0").release?.id, "c");
  assert.equal(pick("1.2.0-beta.1").release, null);
  assert.equal(pick("1.2.0-beta.1").reason, "up_to_date");
  assert.equal(pick("1.3").release, null, "a device ahead of the catalog is never downgraded");
  assert.equal(pick("v1.1.5+local").release?.id, "c");
});

Deno.test("selection hops through the newest release whose min_version the device meets", () => {
  const releases: Selectable[] = [
    { id: "r1", version: "1.0.0", minVersion: null, rolloutPercent: 100 },
    { id: "r15", version: "1.5.0", minVersion: null, rolloutPercent: 100 },
    { id: "r2", version: "2.0.0", minVersion: "1.5.0", rolloutPercent: 100 },
    { id: "r3", version: "3.0.0", minVersion: "2.0.0", rolloutPercent: 100 },
  ];
  const pick = (v: string) => selectRelease(releases, { id: "dev", version: parseVersion(v)! }).release?.id;
  assert.equal(pick("0.9"), "r15");
  assert.equal(pick("1.4.9"), "r15");
  assert.equal(pick("1.5.0"), "r2");
  assert.equal(pick("2.0.0-rc.1"), "r2", "a pre-release of the minimum does not meet it");
  assert.equal(pick("2.0.0"), "r3");
  const onlyGated = selectRelease([releases[2]], { id: "dev", version: parseVersion("1.0")! });
  assert.deepEqual(onlyGated, { release: null, reason: "below_min_version" });
});
