import assert from "node:assert/strict";
import { smartyardInvoices } from "../db/schema.ts";
import { settlePending } from "../src/smartyard/settle.ts";
import { smartyardDeps } from "../src/smartyard/mod.ts";
import { MERCHANT } from "./fakes/sberbank.ts";
import {
  billPhone,
  CLIENT_ID,
  envelopeError,
  expectJson,
  PHONE,
  seedHouse,
  type SmartyardWorld,
  smartyardWorld,
} from "./smartyard_helpers.ts";

/** A logged-in billed user with a prepared invoice of 500 rubles. */
async function prepared(w: SmartyardWorld, amount: unknown = "50000") {
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount }, token), 200);
  return { token, number: body.data as string };
}

/** …and registered with the bank. */
async function registered(w: SmartyardWorld) {
  const p = await prepared(w);
  const reg = await expectJson(await w.call("pay/register", { orderNumber: p.number, amount: "50000" }), 200);
  return { ...p, ...(reg.data as { orderId: string; formUrl: string }) };
}

async function invoices(w: SmartyardWorld) {
  return await w.t.deps.db.select().from(smartyardInvoices);
}

Deno.test("POST /api/user/getPaymentsList answers billing's contracts with the apps' exact types", async () => {
  await using w = await smartyardWorld();
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("user/getPaymentsList", undefined, token), 200);
  assert.deepEqual(body.data, [{
    address: "Тамбов, ул. Уборевича, дом 9, кв 17",
    houseId: "101",
    flatId: "17",
    accounts: [{
      clientId: "89545",
      contractName: "ФЛ-84235/20",
      contractPayName: "84235",
      blocked: "f",
      balance: 150.5,
      bonus: 0,
      payAdvice: 500,
      services: ["internet", "domophone"],
      lcab: "https://lk.example.net/",
    }],
  }]);
  assert.deepEqual(w.billing.callsOf("getlist").map((c) => c.body), [{ phone: 79161234567 }]);
  const same = await expectJson(await w.call("user/getBillingList", {}, token), 200);
  assert.deepEqual(same.data, body.data);
});

Deno.test("user/getPaymentsList reads billing's money exactly: strings, negatives, more than two decimals", async () => {
  await using w = await smartyardWorld();
  w.billing.places.set(PHONE, [{
    address: "x",
    accounts: [
      { clientId: "1", contractName: "a", balance: "-10.5" as unknown as number, bonus: 0.1 },
      { clientId: "2", contractName: "b", balance: 1234.565, bonus: "7" as unknown as number },
    ],
  }]);
  const token = await w.login();
  const body = await expectJson(await w.call("user/getPaymentsList", {}, token), 200);
  const accounts =
    (body.data as { accounts: { balance: number; bonus: number; blocked: string }[] }[])[0].accounts;
  assert.deepEqual(accounts.map((a) => [a.balance, a.bonus, a.blocked]), [[-10.5, 0.1, "f"], [
    1234.57,
    7,
    "f",
  ]]);
});

Deno.test("user/getPaymentsList: 204 when billing has nothing; a fast 502 with Retry-After when it hangs", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  assert.equal((await w.call("user/getPaymentsList", {}, token)).status, 204);
  w.billing.mode = "hang";
  const started = performance.now();
  const res = await w.call("user/getPaymentsList", {}, token);
  assert.ok(performance.now() - started < 3000);
  assert.equal(res.headers.get("retry-after"), "30");
  const e = await envelopeError(res, 502);
  assert.equal(e.message, "Биллинг временно недоступен, попробуйте позже");
  assert.match(String(e.data.detail), /timed out \(getlist\)/);
});

Deno.test("POST /api/pay/prepare makes a billing invoice in kopecks and answers its number as a string", async () => {
  await using w = await smartyardWorld();
  const { number } = await prepared(w, "50000");
  assert.equal(typeof number, "string");
  assert.deepEqual(w.billing.callsOf("createinvoice").map((c) => c.body), [
    { login: CLIENT_ID, amount: "50000", phone: 79161234567 },
  ]);
  const [inv] = await invoices(w);
  assert.deepEqual([inv.number, inv.amount, inv.status, inv.clientId], [number, 50000, "created", CLIENT_ID]);
});

Deno.test('POST /api/pay/prepare accepts "50000.0" (iOS Apple Pay path) and a JSON number as 50000 kopecks', async () => {
  await using w = await smartyardWorld();
  const { token } = await prepared(w, "50000.0");
  await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: 50000 }, token), 200);
  assert.deepEqual((await invoices(w)).map((i) => i.amount), [50000, 50000]);
  assert.deepEqual(w.billing.callsOf("createinvoice").map((c) => c.body.amount), ["50000", "50000"]);
});

Deno.test("POST /api/pay/prepare for someone else's contract is a 404 and makes no invoice", async () => {
  await using w = await smartyardWorld();
  billPhone(w);
  const token = await w.login();
  const e = await envelopeError(
    await w.call("pay/prepare", { clientId: "99999", amount: "100" }, token),
    404,
  );
  assert.equal(e.message, "Договор не найден");
  assert.deepEqual(w.billing.callsOf("createinvoice"), []);
  assert.deepEqual(await invoices(w), []);
});

Deno.test("POST /api/pay/register (no token, as iOS sends it) registers the order with the bank", async () => {
  await using w = await smartyardWorld();
  const { number, orderId, formUrl } = await registered(w);
  assert.match(orderId, /^[0-9a-f-]{36}$/);
  assert.ok(formUrl.startsWith(`${w.bank.url}/payment/merchants/`));
  const [req] = w.bank.requestsOf("register.do");
  assert.deepEqual(req.params, {
    orderNumber: number,
    amount: "50000",
    returnUrl: "https://pay.example.net/success_payment.html",
    failUrl: "https://pay.example.net/failed_payment.html",
    language: "ru",
    description: `Оплата по договору ${CLIENT_ID}`,
    userName: MERCHANT.userName,
    password: MERCHANT.password,
  });
  const [inv] = await invoices(w);
  assert.deepEqual([inv.status, inv.bankOrderId], ["registered", orderId]);
  assert.ok(!w.t.log.lines.some((l) => l.includes(MERCHANT.password)), "the bank password is never logged");
});

Deno.test("POST /api/pay/register again (Android, with its token and an int amount) answers the same order", async () => {
  await using w = await smartyardWorld();
  const first = await registered(w);
  const again = await expectJson(
    await w.call("pay/register", { orderNumber: first.number, amount: 50000 }, first.token),
    200,
  );
  assert.deepEqual(again.data, { orderId: first.orderId, formUrl: first.formUrl });
  assert.equal(w.bank.requestsOf("register.do").length, 1);
});

Deno.test("POST /api/pay/register refuses a wrong amount (422), an unknown number or someone else's (404)", async () => {
  await using w = await smartyardWorld();
  const { number } = await prepared(w);
  await envelopeError(await w.call("pay/register", { orderNumber: number, amount: "40000" }), 422);
  await envelopeError(await w.call("pay/register", { orderNumber: "777777", amount: "50000" }), 404);
  const stranger = await w.login("79161234599");
  await envelopeError(await w.call("pay/register", { orderNumber: number, amount: "50000" }, stranger), 404);
  assert.equal(w.bank.requestsOf("register.do").length, 0);
  assert.equal((await invoices(w))[0].status, "created");
});

Deno.test("the bank down at pay/register: 502 with Retry-After, the invoice stays registrable", async () => {
  await using w = await smartyardWorld();
  const { number } = await prepared(w);
  w.bank.mode = "down";
  const res = await w.call("pay/register", { orderNumber: number, amount: "50000" });
  assert.equal(res.headers.get("retry-after"), "30");
  assert.equal(
    (await envelopeError(res, 502)).message,
    "Платёжный шлюз временно недоступен, попробуйте позже",
  );
  const [inv] = await invoices(w);
  assert.deepEqual([inv.status, inv.bankOrderId, inv.registerClaimedAt], ["created", null, null]);
  w.bank.mode = "ok";
  await expectJson(await w.call("pay/register", { orderNumber: number, amount: "50000" }), 200);
});

Deno.test("the bank's deposited callback marks the invoice paid and tells billing once, also when repeated", async () => {
  await using w = await smartyardWorld();
  const { number, orderId } = await registered(w);
  w.bank.pay(orderId);
  const params = w.bank.callbackParams(orderId);
  const first = await w.t.app.request(`/api/pay/callback?${new URLSearchParams(params)}`);
  assert.deepEqual((await expectJson(first, 200)).data, { result: "paid" });
  const again = await w.t.app.request(`/api/pay/callback?${new URLSearchParams(params)}`);
  assert.deepEqual((await expectJson(again, 200)).data, { result: "already_paid" });
  assert.deepEqual(w.billing.payments, [{
    login: CLIENT_ID,
    invoice: number,
    amount: "50000",
    orderId,
    phone: 79161234567,
  }]);
  const [inv] = await invoices(w);
  assert.deepEqual([inv.status, inv.paidVia, inv.billingNotifiedAt !== null], ["paid", "callback", true]);
});

Deno.test("two copies of the callback at the same moment still tell billing once", async () => {
  await using w = await smartyardWorld();
  const { orderId } = await registered(w);
  w.bank.pay(orderId);
  const q = new URLSearchParams(w.bank.callbackParams(orderId));
  const results = await Promise.all(
    [1, 2, 3].map(async () => (await w.t.app.request(`/api/pay/callback?${q}`)).json()),
  );
  assert.deepEqual(results.map((r) => r.data.result).sort(), ["already_paid", "already_paid", "paid"]);
  assert.equal(w.billing.payments.length, 1);
});

Deno.test("a callback with a forged checksum is refused (403) and changes nothing", async () => {
  await using w = await smartyardWorld();
  const { orderId } = await registered(w);
  const genuine = w.bank.callbackParams(orderId);
  const forged = { ...genuine, checksum: genuine.checksum.replace(/^./, (c) => (c === "A" ? "B" : "A")) };
  w.bank.callbackSecret = "someone-elses-key";
  const otherKey = w.bank.callbackParams(orderId);
  const tampered = { ...genuine, operation: "deposited", orderNumber: "1" };
  for (const params of [forged, otherKey, tampered, { ...genuine, checksum: "" }]) {
    const res = await w.t.app.request(`/api/pay/callback?${new URLSearchParams(params)}`);
    assert.ok(res.status === 403 || res.status === 422, `${res.status}`);
    await res.body?.cancel();
  }
  const [inv] = await invoices(w);
  assert.equal(inv.status, "registered");
  assert.deepEqual(w.billing.payments, []);
});

Deno.test("callbacks signed with the bank's RSA key are checked against SBERBANK_CALLBACK_CERT", async () => {
  const cert = await Deno.readTextFile(new URL("./fakes/sberbank_test_cert.pem", import.meta.url));
  await using w = await smartyardWorld({ config: { SBERBANK_CALLBACK_CERT: cert.replaceAll("\n", "\\n") } });
  const { orderId } = await registered(w);
  // an HMAC checksum (even with the right shared key) is not enough once a certificate is configured
  const hmac = w.bank.callbackParams(orderId);
  const refused = await w.t.app.request(`/api/pay/callback?${new URLSearchParams(hmac)}`);
  await envelopeError(refused, 403);
  w.bank.privateKey = await Deno.readTextFile(new URL("./fakes/sberbank_test_key.pem", import.meta.url));
  const signed = w.bank.callbackParams(orderId);
  assert.equal(signed.sign_alias, "SHA-512 with RSA");
  const res = await w.t.app.request(`/api/pay/callback?${new URLSearchParams(signed)}`);
  assert.deepEqual((await expectJson(res, 200)).data, { result: "paid" });
  assert.equal(w.billing.payments.length, 1);
});

Deno.test("the callback also arrives as a form POST; an amount that differs from the invoice is a 409", async () => {
  await using w = await smartyardWorld();
  const { orderId } = await registered(w);
  const wrong = w.bank.callbackParams(orderId, { extra: { amount: "100" } });
  const conflict = await w.t.app.request("/api/pay/callback", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(wrong),
  });
  await envelopeError(conflict, 409);
  assert.equal((await invoices(w))[0].status, "registered");
  const right = w.bank.callbackParams(orderId, { extra: { amount: "50000" } });
  const ok = await w.t.app.request("/api/pay/callback", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(right),
  });
  assert.deepEqual((await expectJson(ok, 200)).data, { result: "paid" });
});

Deno.test("without a callback, the order is settled by polling getOrderStatusExtended after POLL_AFTER_S", async () => {
  await using w = await smartyardWorld();
  const { orderId } = await registered(w);
  w.bank.pay(orderId);
  const sy = smartyardDeps(w.t.deps);
  assert.deepEqual(await settlePending(sy), { polled: 0, failed: 0, expired: 0, notified: 0 });
  assert.equal(w.bank.requestsOf("getOrderStatusExtended.do").length, 0, "too early to ask");
  w.t.clock.advance(w.t.deps.config.SMARTYARD_POLL_AFTER_S * 1000);
  assert.deepEqual(await settlePending(sy), { polled: 1, failed: 0, expired: 0, notified: 0 });
  assert.deepEqual(w.bank.requestsOf("getOrderStatusExtended.do").map((r) => r.params.orderId), [orderId]);
  const [inv] = await invoices(w);
  assert.deepEqual([inv.status, inv.paidVia], ["paid", "poll"]);
  assert.equal(w.billing.payments.length, 1);
  // a late callback changes nothing more
  const late = await w.t.app.request(
    `/api/pay/callback?${new URLSearchParams(w.bank.callbackParams(orderId))}`,
  );
  assert.deepEqual((await expectJson(late, 200)).data, { result: "already_paid" });
  assert.equal(w.billing.payments.length, 1);
});

Deno.test("polling closes declined orders, and unpaid ones after SMARTYARD_ORDER_TTL_S", async () => {
  await using w = await smartyardWorld();
  const a = await registered(w);
  const b = await expectJson(
    await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, a.token),
    200,
  );
  await expectJson(await w.call("pay/register", { orderNumber: b.data, amount: "100" }), 200);
  w.bank.orders.get(a.orderId)!.orderStatus = 6;
  const sy = smartyardDeps(w.t.deps);
  w.t.clock.advance(w.t.deps.config.SMARTYARD_POLL_AFTER_S * 1000);
  await settlePending(sy);
  w.t.clock.advance(w.t.deps.config.SMARTYARD_ORDER_TTL_S * 1000);
  await settlePending(sy);
  const rows = await invoices(w);
  assert.deepEqual(
    rows.map((r) => [r.number, r.status]).sort(),
    [[a.number, "declined"], [String(b.data), "expired"]].sort(),
  );
  await envelopeError(await w.call("pay/register", { orderNumber: a.number, amount: "50000" }), 409);
});

Deno.test("billing down when the payment arrives: the invoice is paid, and billing is told later, once", async () => {
  await using w = await smartyardWorld();
  const { orderId } = await registered(w);
  w.billing.failPaySuccess = 1;
  const res = await w.t.app.request(
    `/api/pay/callback?${new URLSearchParams(w.bank.callbackParams(orderId))}`,
  );
  assert.deepEqual((await expectJson(res, 200)).data, { result: "paid" });
  let [inv] = await invoices(w);
  assert.deepEqual([inv.status, inv.billingNotifiedAt, inv.notifyAttempts], ["paid", null, 1]);
  assert.match(inv.notifyError!, /HTTP 500/);
  const sy = smartyardDeps(w.t.deps);
  assert.equal((await settlePending(sy)).notified, 1);
  assert.equal((await settlePending(sy)).notified, 0);
  [inv] = await invoices(w);
  assert.deepEqual([inv.billingNotifiedAt !== null, inv.notifyAttempts, inv.notifyError], [true, 2, null]);
  assert.equal(w.billing.payments.length, 1);
});

Deno.test("POST /api/pay/process answers {} and settles with the bank's word only", async () => {
  await using w = await smartyardWorld();
  const { token, number, orderId } = await registered(w);
  const notYet = await expectJson(
    await w.call("pay/process", { paymentId: number, sbId: orderId }, token),
    200,
  );
  assert.deepEqual(notYet.data, {});
  assert.equal((await invoices(w))[0].status, "registered");
  w.bank.pay(orderId);
  await expectJson(await w.call("pay/process", { paymentId: number, sbId: orderId }, token), 200);
  assert.equal((await invoices(w))[0].status, "paid");
  assert.equal(w.billing.payments.length, 1);
  await envelopeError(await w.call("pay/process", { paymentId: "424242", sbId: orderId }, token), 404);
});

Deno.test("pay/prepare without a bank configured is a 503 in the envelope and calls billing for nothing", async () => {
  await using w = await smartyardWorld({ config: { SBERBANK_USERNAME: "", SBERBANK_PASSWORD: "" } });
  billPhone(w);
  const token = await w.login();
  await envelopeError(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, token), 503);
  assert.deepEqual(w.billing.callsOf("createinvoice"), []);
});

Deno.test("billing reusing an invoice number is a 502, not a second invoice", async () => {
  await using w = await smartyardWorld();
  const { token, number } = await prepared(w);
  w.billing.nextInvoiceNumber = number;
  const e = await envelopeError(
    await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, token),
    502,
  );
  assert.match(String(e.data.detail), /already used/);
  assert.equal((await invoices(w)).length, 1);
});

Deno.test("pay/process for an invoice with no bank order takes the app's sbId only if no other invoice has it", async () => {
  await using w = await smartyardWorld();
  const first = await registered(w);
  const second = await expectJson(
    await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, first.token),
    200,
  );
  const res = await w.call("pay/process", { paymentId: second.data, sbId: first.orderId }, first.token);
  assert.deepEqual((await envelopeError(res, 422)).data.errors, [{
    field: "sbId",
    message: "Is another invoice's bank order",
  }]);
  const rows = await invoices(w);
  assert.deepEqual(
    rows.map((r) => [r.number, r.bankOrderId]).sort(),
    [[first.number, first.orderId], [second.data, null]].sort(),
  );
});
