import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { callbackCheckString, verifyCallback } from "../src/smartyard/acquiring.ts";
import { doorRequest, doorUrlProblem } from "../src/smartyard/door_urls.ts";
import { appPhoneToE164 } from "../src/smartyard/login.ts";
import { kopecksToRubles, parseAppKopecks, rublesToKopecks } from "../src/smartyard/money.ts";
import { compareVersions } from "../src/smartyard/profile.ts";
import { testConfig } from "./helpers.ts";

Deno.test("parseAppKopecks reads the apps' amounts: ints and whole-number strings only", () => {
  for (
    const [v, want] of [[50000, 50000], ["50000", 50000], ["50000.0", 50000], ["50000.00", 50000], [
      " 7 ",
      7,
    ]] as const
  ) {
    assert.equal(parseAppKopecks(v), want, String(v));
  }
  for (
    const v of [
      0,
      -1,
      1.5,
      "0",
      "500.5",
      "5e4",
      "",
      "abc",
      "-100",
      null,
      undefined,
      {},
      Number.MAX_VALUE,
      "1".repeat(14),
    ]
  ) {
    assert.equal(parseAppKopecks(v), null, String(v));
  }
});

Deno.test("rublesToKopecks converts billing's rubles exactly, from the decimal text", () => {
  const cases: [number | string, number][] = [
    [150.5, 15050],
    [0.1, 10],
    [0.29, 29],
    [1.005, 101],
    ["1234.565", 123457],
    ["-10.5", -1050],
    [-0.004, 0],
    ["0", 0],
    [1e-7, 0],
    [99999999.99, 9999999999],
  ];
  for (const [v, want] of cases) assert.equal(rublesToKopecks(v), want, String(v));
  for (const v of ["", "1,5", "abc", NaN, Infinity, "1e3"]) assert.equal(rublesToKopecks(v), null, String(v));
  assert.equal(kopecksToRubles(15050), 150.5);
  assert.equal(JSON.stringify(kopecksToRubles(29)), "0.29");
});

Deno.test("compareVersions compares dotted numbers, not text", () => {
  assert.equal(compareVersions("2.10", "2.9"), 1);
  assert.equal(compareVersions("3", "3.0.0"), 0);
  assert.equal(compareVersions("1.2.3", "1.2.4"), -1);
});

Deno.test("callbackCheckString is name;value; over the parameters sorted by name, without checksum and sign_alias", () => {
  const params = {
    orderNumber: "100001",
    mdOrder: "abc",
    status: "1",
    operation: "deposited",
    checksum: "X",
    sign_alias: "Y",
  };
  assert.equal(callbackCheckString(params), "mdOrder;abc;operation;deposited;orderNumber;100001;status;1;");
  const sum = createHmac("sha256", "k").update(callbackCheckString(params)).digest("hex");
  assert.ok(verifyCallback({ ...params, checksum: sum.toUpperCase() }, { secret: "k" }));
  assert.ok(verifyCallback({ ...params, checksum: sum }, { secret: "k" }));
  assert.ok(!verifyCallback({ ...params, checksum: sum }, { secret: "other" }));
  assert.ok(!verifyCallback({ ...params, checksum: sum }, {}), "nothing passes without a key");
  assert.ok(!verifyCallback({ ...params, status: "0", checksum: sum }, { secret: "k" }));
});

Deno.test("door URL templates: placeholders filled, secrets URL-encoded, credentials moved to Basic auth", () => {
  const config = { SMARTYARD_DOOR_SECRETS: { p: "pa:ss@w/rd" } };
  const template =
    "http://admin:{secret:p}@10.0.0.5:8080/cgi-bin/intercom_cgi?action=maindoor&panel={domophoneId}&door={doorId}";
  assert.equal(doorUrlProblem(config, template), null);
  const req = doorRequest(config, template, { domophoneId: 53, doorId: 1 });
  assert.equal(req.url, "http://10.0.0.5:8080/cgi-bin/intercom_cgi?action=maindoor&panel=53&door=1");
  assert.equal(atob(req.headers.authorization.slice("Basic ".length)), "admin:pa:ss@w/rd");
  assert.deepEqual(
    doorRequest(config, "https://gw.example.net/open/{domophoneId}", { domophoneId: 7, doorId: 0 }),
    {
      url: "https://gw.example.net/open/7",
      headers: {},
    },
  );
  assert.match(doorUrlProblem(config, "http://u:secret@h/")!, /SMARTYARD_DOOR_SECRETS/);
});

Deno.test("appPhoneToE164 takes 11 digits starting with 7 or 8 and answers E.164", () => {
  const deps = { config: testConfig() };
  assert.equal(appPhoneToE164(deps, "79161234567"), "+79161234567");
  assert.equal(appPhoneToE164(deps, "89161234567"), "+79161234567");
  for (const bad of ["9161234567", "+79161234567", "69161234567", "7916123456a", "70000000000"]) {
    assert.throws(() => appPhoneToE164(deps, bad), { status: 422 }, bad);
  }
});
