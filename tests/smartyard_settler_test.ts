import assert from "node:assert/strict";
import { smartyardDeps } from "../src/smartyard/mod.ts";
import { PaymentSettler } from "../src/smartyard/settle.ts";
import { billPhone, CLIENT_ID, expectJson, seedHouse, smartyardWorld } from "./smartyard_helpers.ts";

Deno.test("the payment settler (as main.ts runs it) settles an order the bank never called back about", async () => {
  await using w = await smartyardWorld({ config: { SMARTYARD_POLL_INTERVAL_S: "1" } });
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  const number =
    (await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "700" }, token), 200))
      .data;
  const reg = await expectJson(await w.call("pay/register", { orderNumber: number, amount: "700" }), 200);
  w.bank.pay((reg.data as { orderId: string }).orderId);
  w.t.clock.advance(w.t.deps.config.SMARTYARD_POLL_AFTER_S * 1000);
  const told = Promise.withResolvers<void>();
  w.t.deps.events.on("smartyard.billing_notified", () => told.resolve());
  const timeout = setTimeout(() => told.reject(new Error("the settler did not settle within 20 s")), 20_000);
  await using settler = new PaymentSettler(smartyardDeps(w.t.deps)).start();
  await told.promise;
  clearTimeout(timeout);
  await settler.close();
  const inv = await expectJson(await w.admin("GET", `invoices/${number}`), 200);
  assert.deepEqual([inv.status, inv.paid_via, inv.billing_notified], ["paid", "poll", true]);
  assert.equal(w.billing.payments.length, 1);
});

Deno.test("closing the settler before its first pass runs nothing and resolves", async () => {
  await using w = await smartyardWorld();
  const settler = new PaymentSettler(smartyardDeps(w.t.deps)).start();
  await settler.close();
  assert.equal(w.bank.requests.length, 0);
});
