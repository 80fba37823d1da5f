/** Bad input on every route of the apps' API: a clear 4xx in the apps' envelope, and nothing changes anywhere. */
import assert from "node:assert/strict";
import {
  authSessions,
  otpCodes,
  otpRequests,
  smartyardAppTokens,
  smartyardBillingCache,
  smartyardInvoices,
  smartyardProfiles,
  smartyardPushTokens,
} from "../db/schema.ts";
import { errorEnvelope } from "./smartyard_app_models.ts";
import {
  billPhone,
  CLIENT_ID,
  expectJson,
  PHONE,
  seedHouse,
  type SmartyardWorld,
  smartyardWorld,
} from "./smartyard_helpers.ts";

/** Everything a request could change: our tables and what the fakes were asked to do. */
async function snapshot(w: SmartyardWorld): Promise<string> {
  const db = w.t.deps.db;
  return JSON.stringify({
    tables: await Promise.all([
      db.select().from(otpCodes),
      db.select().from(otpRequests),
      db.select().from(authSessions),
      db.select().from(smartyardAppTokens),
      db.select().from(smartyardProfiles),
      db.select().from(smartyardPushTokens),
      db.select().from(smartyardBillingCache),
      db.select().from(smartyardInvoices),
    ]),
    sms: w.t.sms.sent.length,
    billing: w.billing.calls.length,
    bank: w.bank.requests.length,
    panel: w.panel.opens.length,
  });
}

const NOT_AN_OBJECT = ["{", "[1]", '"x"', "null", "7"];

/** Route → bodies it must refuse with 422 (besides NOT_AN_OBJECT, which every route refuses). */
const BAD: Record<string, unknown[]> = {
  "user/phonePattern": [],
  "user/requestCode": [
    {},
    { userPhone: 79161234567 },
    { userPhone: "7916123456" },
    { userPhone: "69161234567" },
    { userPhone: "791612345678" },
    { userPhone: "+79161234567" },
    { userPhone: "70000000000" },
    { userPhone: "x".repeat(100) },
  ],
  "user/confirmCode": [
    {},
    { userPhone: PHONE },
    { userPhone: PHONE, smsCode: "123" },
    { userPhone: PHONE, smsCode: "12345" },
    { userPhone: PHONE, smsCode: 1234 },
    { userPhone: PHONE, smsCode: "abcd" },
    { userPhone: "123", smsCode: "1234" },
  ],
  "ext/options": [],
  "user/appVersion": [
    {},
    { version: "abc", platform: "android" },
    { version: "1.0", platform: "windows" },
    { version: "1.0" },
    { version: -1, platform: "ios" },
  ],
  "user/registerPushToken": [
    {},
    { pushToken: "", platform: "android" },
    { pushToken: "x", platform: "windows" },
    { pushToken: "x", platform: "ios", type: 9 },
    { pushToken: "x", platform: "ios", production: "yes" },
    { pushToken: 5, platform: "android" },
    { pushToken: "x\u0000", platform: "android" },
    { pushToken: "x", platform: "ios", clientId: "\u001b[2J" },
  ],
  "user/sendName": [{}, { name: "" }, { name: "   " }, { name: 5 }, { name: "x".repeat(101) }, {
    name: "Иван\u0007",
  }, { name: "Иван", patronymic: "\u007f" }],
  "user/notification": [{ money: true }, { enable: "yes" }, { money: 1 }],
  "user/ping": [],
  "address/getAddressList": [],
  "address/getSettingsList": [],
  "address/openDoor": [
    {},
    { domophoneId: "abc" },
    { domophoneId: -1 },
    { domophoneId: 1.5 },
    { domophoneId: "53", doorId: "x" },
    { domophoneId: "53", doorId: 5000 },
  ],
  "cctv/all": [{ houseId: "abc" }, { houseId: -1 }, { houseId: 1.5 }, { houseId: {} }, { houseId: "1e3" }],
  "cctv/camMap": [],
  "cctv/overview": [],
  "user/getPaymentsList": [],
  "user/getBillingList": [],
  "pay/prepare": [
    {},
    { clientId: CLIENT_ID },
    { amount: "100" },
    { clientId: "", amount: "100" },
    { clientId: CLIENT_ID, amount: "500.5" },
    { clientId: CLIENT_ID, amount: "0" },
    { clientId: CLIENT_ID, amount: "-100" },
    { clientId: CLIENT_ID, amount: "abc" },
    { clientId: CLIENT_ID, amount: "" },
    { clientId: CLIENT_ID, amount: 1.5 },
    { clientId: CLIENT_ID, amount: "5e4" },
    { clientId: CLIENT_ID, amount: 0 },
    { clientId: CLIENT_ID, amount: "100000000000" },
    { clientId: CLIENT_ID, amount: null },
  ],
  "pay/register": [
    {},
    { orderNumber: "../x", amount: "100" },
    { orderNumber: "1", amount: "1.5" },
    { orderNumber: "1" },
    { orderNumber: "x".repeat(33), amount: "100" },
  ],
  "pay/process": [{}, { paymentId: "" }, { paymentId: "1", sbId: 5 }],
};

Deno.test("every route of the apps' API refuses bad input with a 4xx envelope and changes nothing", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { doorCamera: true });
  billPhone(w);
  const token = await w.login();
  // a prepared invoice, so pay/register and pay/process have something they could wrongly change
  await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, token), 200);
  const before = await snapshot(w);
  for (const [route, bodies] of Object.entries(BAD)) {
    for (const body of [...NOT_AN_OBJECT, ...bodies]) {
      const res = await w.call(route, typeof body === "string" ? body : JSON.stringify(body), token);
      const what = `${route} ${typeof body === "string" ? body : JSON.stringify(body)}`;
      assert.equal(res.status, 422, what);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/, what);
      const env = errorEnvelope.parse(await res.json());
      assert.equal(env.code, 422, what);
      assert.equal(env.message, "Некорректные данные", what);
      assert.ok(Array.isArray((env.data as { errors?: unknown }).errors), what);
    }
  }
  assert.equal(await snapshot(w), before);
});

Deno.test("every authenticated route answers 401 (envelope) to a missing or unknown token before reading the body", async () => {
  await using w = await smartyardWorld();
  const open = new Set([
    "user/phonePattern",
    "user/requestCode",
    "user/confirmCode",
    "ext/options",
    "user/appVersion",
  ]);
  const before = await snapshot(w);
  for (const route of Object.keys(BAD).filter((r) => !open.has(r) && r !== "pay/register")) {
    for (const token of [null, "unknown-token"]) {
      const res = await w.call(route, "{", token);
      assert.equal(res.status, 401, `${route} ${token}`);
      assert.equal(errorEnvelope.parse(await res.json()).message, "Не авторизован");
    }
  }
  // pay/register takes no token (iOS), but a wrong one is still refused
  const reg = await w.call("pay/register", { orderNumber: "1", amount: "100" }, "unknown-token");
  assert.equal(reg.status, 401);
  await reg.body?.cancel();
  assert.equal(await snapshot(w), before);
});

Deno.test("the bank's callback refuses missing parameters (422) and unknown orders (404) without changes", async () => {
  await using w = await smartyardWorld();
  const before = await snapshot(w);
  const missing = await w.t.app.request("/api/pay/callback?mdOrder=x");
  assert.equal(missing.status, 422);
  errorEnvelope.parse(await missing.json());
  w.bank.orders.set("00000000-0000-4000-8000-000000000000", {
    orderId: "00000000-0000-4000-8000-000000000000",
    orderNumber: "424242",
    amount: 100,
    returnUrl: "x",
    orderStatus: 2,
  });
  const q = new URLSearchParams(w.bank.callbackParams("00000000-0000-4000-8000-000000000000"));
  const unknown = await w.t.app.request(`/api/pay/callback?${q}`);
  assert.equal(unknown.status, 404);
  errorEnvelope.parse(await unknown.json());
  assert.equal(await snapshot(w), before);
});

Deno.test("a body over 64 KiB is refused (413) before any work", async () => {
  await using w = await smartyardWorld();
  const res = await w.call("user/requestCode", JSON.stringify({ userPhone: PHONE, pad: "x".repeat(70_000) }));
  assert.equal(res.status, 413);
  await res.body?.cancel();
  assert.equal(w.t.sms.sent.length, 0);
});
