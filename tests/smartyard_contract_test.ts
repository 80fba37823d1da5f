/**
 * An unmodified app's day against gatehouse over real HTTP, every answer checked against the apps' own models
 * (tests/smartyard_app_models.ts): login by SMS, start-up, addresses, cameras and a Flussonic play check,
 * the balance from billing, and a card payment whose bank callback arrives (twice, and once forged).
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import { flussonicQuery } from "./camera_helpers.ts";
import {
  addressListData,
  appVersionData,
  cameraListData,
  confirmCodeData,
  envelope,
  errorEnvelope,
  optionsData,
  paymentsListData,
  phonePatternData,
  prepareData,
  registerData,
  requestCodeData,
} from "./smartyard_app_models.ts";
import {
  billPhone,
  CLIENT_ID,
  expectJson,
  PHONE,
  PHONE_E164,
  seedHouse,
  smartyardWorld,
} from "./smartyard_helpers.ts";

Deno.test("an unmodified app's day: SMS login → options → addresses → cameras → Flussonic → balance → card payment", async () => {
  // gatehouse listens on a real port, so the fake bank can call it back as the real one would
  let handler: (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response> =
    () => new Response(null, { status: 503 });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req, info) => handler(req, info),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  await using w = await smartyardWorld({ config: { SBERBANK_CALLBACK_URL: `${base}/api/pay/callback` } });
  handler = (req, info) => w.t.app.fetch(req, info);
  await seedHouse(w, { streams: ["yard-1"], doorCamera: true });
  billPhone(w);

  /** One call as the apps make it: POST, JSON (or no body), Bearer when logged in; the answer parsed strictly. */
  const session: { token?: string } = {};
  async function app<T extends z.ZodType>(
    path: string,
    body: unknown,
    data: T,
    auth = true,
  ): Promise<z.output<T>> {
    const headers: Record<string, string> = {
      "x-system-info": "Android 14, Pixel 7",
      "accept-language": "ru",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth && session.token) headers.authorization = `Bearer ${session.token}`;
    const res = await fetch(`${base}/api/${path}`, {
      method: "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    return (envelope(data).parse(await res.json()) as { data: z.output<T> }).data;
  }

  // login: phonePattern → requestCode → the code from the SMS → confirmCode
  assert.equal(await app("user/phonePattern", undefined, phonePatternData, false), "+7 (###) ###-##-##");
  assert.deepEqual(await app("user/requestCode", { userPhone: PHONE }, requestCodeData, false), {
    method: "sms",
  });
  const code = w.t.sms.lastCode(PHONE_E164);
  assert.match(code, /^\d{4}$/);
  const login = await app("user/confirmCode", { userPhone: PHONE, smsCode: code }, confirmCodeData, false);
  session.token = login.accessToken;

  // start-up
  assert.equal((await app("ext/options", undefined, optionsData)).payments, "t");
  assert.equal(
    await app("user/appVersion", { version: "4.2.0", platform: "android" }, appVersionData),
    "none",
  );

  // addresses and cameras (Android sends houseId as an int)
  const addresses = await app("address/getAddressList", undefined, addressListData);
  assert.equal(addresses.length, 1);
  const cameras = await app("cctv/all", { houseId: Number(addresses[0].houseId) }, cameraListData);
  assert.equal(cameras.length, 1);
  assert.equal(addresses[0].cctv, cameras.length);

  // the player opens <url>/index.m3u8?token=…; Flussonic asks gatehouse with the stream name and the token
  const stream = new URL(cameras[0].url).pathname.slice(1);
  const play = await fetch(
    `${base}/api/accessfl?${flussonicQuery({ name: stream, token: cameras[0].token })}`,
  );
  assert.equal(play.status, 200);
  await play.body?.cancel();

  // the balance, from billing
  const payments = await app("user/getPaymentsList", undefined, paymentsListData);
  assert.deepEqual(payments[0].accounts.map((a) => [a.clientId, a.balance]), [[CLIENT_ID, 150.5]]);

  // a card payment: prepare (the app's kopecks) → register (iOS: no token) → the bank's page → callback
  const orderNumber = await app("pay/prepare", { clientId: CLIENT_ID, amount: "50000" }, prepareData);
  const order = await app("pay/register", { orderNumber, amount: "50000" }, registerData, false);
  const bankOrder = w.bank.pay(order.orderId);
  assert.equal(bankOrder.callbackUrl, `${base}/api/pay/callback`);
  const params = w.bank.callbackParams(order.orderId);
  const first = await w.bank.deliverCallback(bankOrder.callbackUrl!, params);
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const repeat = await w.bank.deliverCallback(bankOrder.callbackUrl!, params);
  assert.equal(repeat.status, 200);
  await repeat.body?.cancel();
  const forgedParams = { ...params, checksum: "00".repeat(32) };
  const forged = await w.bank.deliverCallback(bankOrder.callbackUrl!, forgedParams);
  assert.equal(forged.status, 403);
  errorEnvelope.parse(await forged.json());

  // the invoice is paid once and billing was told once
  const inv = await expectJson(await w.admin("GET", `invoices/${orderNumber}`), 200);
  assert.deepEqual([inv.status, inv.amount, inv.paid_via, inv.billing_notified], [
    "paid",
    50000,
    "callback",
    true,
  ]);
  assert.deepEqual(w.billing.payments, [{
    login: CLIENT_ID,
    invoice: orderNumber,
    amount: "50000",
    orderId: order.orderId,
    phone: 79161234567,
  }]);
});
