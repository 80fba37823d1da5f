import assert from "node:assert/strict";
import { smartyardProfiles, smartyardPushTokens } from "../db/schema.ts";
import { callbackKeysFromConfig } from "../src/smartyard/acquiring.ts";
import { testConfig } from "./helpers.ts";
import { envelopeError, expectJson, smartyardWorld } from "./smartyard_helpers.ts";

Deno.test('POST /api/ext/options answers 200 with payments "t" when billing and the bank are configured', async () => {
  await using w = await smartyardWorld({ config: { SMARTYARD_SUPPORT_PHONE: "+78002000600" } });
  const token = await w.login();
  const body = await expectJson(await w.call("ext/options", undefined, token), 200);
  assert.deepEqual(body.data, {
    payments: "t",
    cityCams: "f",
    chat: "f",
    timeZone: "Europe/Moscow",
    supportPhone: "+78002000600",
    cctvView: "list",
    activeTab: "addresses",
    guestAccess: "turnOnOnly",
  });
});

Deno.test('POST /api/ext/options still answers 2xx (payments "f") without a bank, so the Android login goes on', async () => {
  await using w = await smartyardWorld({ config: { SBERBANK_USERNAME: "", SBERBANK_PASSWORD: "" } });
  const body = await expectJson(await w.call("ext/options", {}), 200);
  assert.equal((body.data as Record<string, unknown>).payments, "f");
});

Deno.test("POST /api/user/appVersion answers none, upgrade or force_upgrade from the configured versions", async () => {
  await using w = await smartyardWorld({
    config: {
      SMARTYARD_MIN_VERSION_ANDROID: "2.0",
      SMARTYARD_LATEST_VERSION_ANDROID: "2.3.1",
      SMARTYARD_MIN_VERSION_IOS: "150",
    },
  });
  const cases: [unknown, string][] = [
    [{ version: "1.9.9", platform: "android" }, "force_upgrade"],
    [{ version: "2.3.0", platform: "android" }, "upgrade"],
    [{ version: "2.3.1", platform: "android" }, "none"],
    [{ version: "2.10 (310)", platform: "android" }, "none"],
    [{ version: 149, platform: "ios" }, "force_upgrade"],
    [{ version: "151", platform: "ios" }, "none"],
  ];
  for (const [body, want] of cases) {
    const res = await expectJson(await w.call("user/appVersion", body), 200);
    assert.equal(res.data, want, JSON.stringify(body));
  }
});

Deno.test("POST /api/user/appVersion answers none when no version is configured", async () => {
  await using w = await smartyardWorld();
  const res = await expectJson(await w.call("user/appVersion", { version: "1.0", platform: "ios" }), 200);
  assert.equal(res.data, "none");
});

Deno.test("POST /api/user/registerPushToken stores Android and iOS registrations per login session (204)", async () => {
  await using w = await smartyardWorld();
  const android = await w.login();
  const ios = await w.login();
  const a = await w.call("user/registerPushToken", {
    pushToken: "fcm-token-1",
    pushService: "fcm",
    platform: "android",
  }, android);
  assert.equal(a.status, 204);
  const i = await w.call("user/registerPushToken", {
    pushToken: "apns-token-1",
    platform: "ios",
    type: 2,
    voipToken: "voip-1",
    production: "t",
  }, ios);
  assert.equal(i.status, 204);
  // a second registration from one device replaces the first
  await (await w.call("user/registerPushToken", { pushToken: "fcm-token-2", platform: "android" }, android))
    .body?.cancel();
  const rows = await w.t.deps.db.select().from(smartyardPushTokens);
  assert.deepEqual(
    rows.map((r) => [r.platform, r.pushToken, r.pushService, r.voipToken, r.tokenType, r.production]).sort(),
    [["android", "fcm-token-2", null, null, null, null], ["ios", "apns-token-1", null, "voip-1", 2, true]],
  );
});

Deno.test("POST /api/user/notification reads and changes the switches as t/f", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  assert.deepEqual((await expectJson(await w.call("user/notification", {}, token), 200)).data, {
    money: "t",
    enable: "t",
  });
  assert.deepEqual((await expectJson(await w.call("user/notification", { money: "f" }, token), 200)).data, {
    money: "f",
    enable: "t",
  });
  const [row] = await w.t.deps.db.select().from(smartyardProfiles);
  assert.equal(row.notifyMoney, false);
});

Deno.test("POST /api/user/sendName stores the name; an empty name is a 422 and changes nothing", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  await envelopeError(await w.call("user/sendName", { name: "  " }, token), 422);
  assert.deepEqual(await w.t.deps.db.select().from(smartyardProfiles), []);
  assert.equal((await w.call("user/sendName", { name: "Иван" }, token)).status, 204);
  const [row] = await w.t.deps.db.select().from(smartyardProfiles);
  assert.deepEqual([row.name, row.patronymic], ["Иван", null]);
});

Deno.test("POST /api/user/ping is 204 with a token and 401 without", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  assert.equal((await w.call("user/ping", undefined, token)).status, 204);
  await envelopeError(await w.call("user/ping"), 401);
});

Deno.test("SMARTYARD_PREFIX moves the apps' API (e.g. /mobile/ as the PHP server has it)", async () => {
  await using w = await smartyardWorld({ config: { SMARTYARD_PREFIX: "/mobile/" } });
  const moved = await w.t.json("POST", "/mobile/user/phonePattern");
  assert.equal((await expectJson(moved, 200)).data, "+7 (###) ###-##-##");
  const old = await w.t.json("POST", "/api/user/phonePattern");
  assert.equal(old.status, 404);
  await old.body?.cancel();
});

Deno.test("the old /api routes keep working beside the apps' API under /api/", async () => {
  await using w = await smartyardWorld();
  const otp = await w.t.json("POST", "/api/otprequest", {
    client_secret: "legacy-secret",
    phone: "+79161234567",
  });
  assert.deepEqual(await expectJson(otp, 200), { status: "sent", expires_in: 300, resend_in: 60 });
  const flussonic = await w.t.app.request("/api/accessfl?name=yard-1");
  assert.equal(flussonic.status, 403);
  await flussonic.body?.cancel();
  for (const path of ["/api/device", "/api/checkDeviceInfo"]) {
    const res = await w.t.json("POST", path, { client_secret: "wrong", user: "x", imei: "1" });
    assert.equal(res.status, 401, path);
    await res.body?.cancel();
  }
});

Deno.test("the SmartYard settings are checked at start-up", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ SMARTYARD_PREFIX: "api" }, /SMARTYARD_PREFIX/],
    [{ SBERBANK_USERNAME: "u", SBERBANK_RETURN_URL: "https://x.example/" }, /SBERBANK_PASSWORD/],
    [{ SBERBANK_TOKEN: "t" }, /SBERBANK_RETURN_URL/],
    [{ SMARTYARD_DOOR_SECRETS: "{not json" }, /SMARTYARD_DOOR_SECRETS/],
    [{ SMARTYARD_OTP_LENGTH: "3" }, /SMARTYARD_OTP_LENGTH/],
    [{ SMARTYARD_MIN_VERSION_IOS: "v1" }, /SMARTYARD_MIN_VERSION_IOS/],
    [{ SBERBANK_CURRENCY: "RUB" }, /SBERBANK_CURRENCY/],
  ];
  for (const [env, why] of bad) assert.throws(() => testConfig(env), why, JSON.stringify(env));
  const ok = testConfig({
    BILLING_URL: "http://billing.example/api",
    SMARTYARD_DVR_URL: "https://dvr.example/",
  });
  assert.equal(ok.BILLING_URL, "http://billing.example/api/");
  assert.equal(ok.SMARTYARD_DVR_URL, "https://dvr.example");
  assert.throws(
    () =>
      callbackKeysFromConfig(testConfig({ SBERBANK_CALLBACK_CERT: "-----BEGIN CERTIFICATE-----\\nnope" })),
    /SBERBANK_CALLBACK_CERT/,
  );
});
