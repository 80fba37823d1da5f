import assert from "node:assert/strict";
import { smartyardProfiles, smartyardPushTokens } from "../db/schema.ts";
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
