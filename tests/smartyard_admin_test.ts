import assert from "node:assert/strict";
import { addCamera } from "./camera_helpers.ts";
import { problem } from "./helpers.ts";
import {
  billPhone,
  CLIENT_ID,
  expectJson,
  HOUSE_ID,
  PHONE,
  PHONE_E164,
  seedHouse,
  smartyardWorld,
} from "./smartyard_helpers.ts";

Deno.test("the SmartYard admin routes need the API key: 401 without it, 401 for an app token", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
    const res = await w.t.json("GET", "/api/v1/smartyard/houses", undefined, headers);
    assert.equal(res.status, 401);
    assert.equal((await problem(res)).status, 401);
  }
});

Deno.test("houses: create (409 for a used number), list, read with doors, cameras and residents, rename, delete", async () => {
  await using w = await smartyardWorld();
  const { cameraIds, doorId } = await seedHouse(w);
  const dup = await w.admin("POST", "houses", { id: HOUSE_ID, address: "again" });
  assert.equal((await problem(dup)).status, 409);
  await expectJson(await w.admin("PUT", `houses/${HOUSE_ID}/residents/${PHONE}`, { flat: "3" }), 201);
  assert.equal((await w.admin("PUT", `houses/${HOUSE_ID}/residents/${PHONE}`, {})).status, 200);
  const house = await expectJson(await w.admin("GET", `houses/${HOUSE_ID}`), 200);
  assert.equal(house.address, "Тамбов, ул. Уборевича, дом 9");
  assert.deepEqual((house.doors as { id: string }[]).map((d) => d.id), [doorId]);
  assert.deepEqual((house.cameras as { camera_id: string; lat: string }[]).map((c) => [c.camera_id, c.lat]), [
    [
      cameraIds[0],
      "52.7212",
    ],
  ]);
  assert.deepEqual((house.residents as { phone: string; flat: string }[]).map((r) => [r.phone, r.flat]), [[
    PHONE_E164,
    "3",
  ]]);
  const renamed = await expectJson(
    await w.admin("PATCH", `houses/${HOUSE_ID}`, { address: "Новый адрес" }),
    200,
  );
  assert.equal(renamed.address, "Новый адрес");
  const list = await expectJson(await w.admin("GET", "houses"), 200);
  assert.deepEqual((list.houses as { id: number }[]).map((h) => h.id), [HOUSE_ID]);
  assert.equal((await w.admin("DELETE", `houses/${HOUSE_ID}`)).status, 204);
  assert.equal((await problem(await w.admin("GET", `houses/${HOUSE_ID}`))).status, 404);
});

Deno.test("deleting a house takes its cameras from its residents' tokens", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1"] });
  billPhone(w);
  const token = await w.login();
  const cams = (await expectJson(await w.call("cctv/all", {}, token), 200)).data as { token: string }[];
  assert.equal((await w.admin("DELETE", `houses/${HOUSE_ID}`)).status, 204);
  const res = await w.t.app.request(`/api/accessfl?name=yard-1&token=${encodeURIComponent(cams[0].token)}`);
  assert.equal(res.status, 403);
});

Deno.test("door URLs: panel passwords must come from SMARTYARD_DOOR_SECRETS; unknown placeholders are refused", async () => {
  await using w = await smartyardWorld();
  await expectJson(await w.admin("POST", "houses", { id: 5, address: "x" }), 201);
  const door = { domophone_id: 1, icon: "gate", name: "Ворота" };
  const cases: [string, RegExp][] = [
    ["http://admin:plain-password@10.0.0.5/cgi-bin/intercom_cgi?action=maindoor", /SMARTYARD_DOOR_SECRETS/],
    ["http://admin:{secret:missing}@10.0.0.5/open", /not in SMARTYARD_DOOR_SECRETS/],
    ["http://10.0.0.5/open?door={door}", /unknown placeholder \{door\}/],
    ["ftp://10.0.0.5/open", /http/],
    ["not a url", /not a URL/],
  ];
  for (const [open_url, why] of cases) {
    const res = await w.admin("POST", "houses/5/doors", { ...door, open_url });
    const p = await problem(res);
    assert.equal(p.status, 422, open_url);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), ["open_url"]);
    assert.match((p.errors as { message: string }[])[0].message, why, open_url);
  }
  const unknownCamera = await w.admin("POST", "houses/5/doors", {
    ...door,
    open_url: "http://10.0.0.5/open",
    camera_id: crypto.randomUUID(),
  });
  assert.equal((await problem(unknownCamera)).status, 422);
  const ok = await expectJson(
    await w.admin("POST", "houses/5/doors", {
      ...door,
      open_url: "http://admin:{secret:panel}@10.0.0.5/cgi-bin/intercom_cgi?action=maindoor&n={doorId}",
    }),
    201,
  );
  assert.equal(ok.door_id, 0);
  const twice = await w.admin("POST", "houses/5/doors", { ...door, open_url: "http://10.0.0.5/open" });
  assert.equal((await problem(twice)).status, 409);
  const patched = await expectJson(
    await w.admin("PATCH", `doors/${ok.id}`, { name: "Калитка", icon: "wicket" }),
    200,
  );
  assert.deepEqual([patched.name, patched.icon], ["Калитка", "wicket"]);
  assert.equal((await w.admin("DELETE", `doors/${ok.id}`)).status, 204);
  assert.equal((await problem(await w.admin("DELETE", `doors/${ok.id}`))).status, 404);
});

Deno.test("house cameras: lat/lon needed the first time; settings changes reach the apps' list", async () => {
  await using w = await smartyardWorld();
  await expectJson(await w.admin("POST", "houses", { id: HOUSE_ID, address: "x" }), 201);
  const cam = await addCamera(w.t, "yard-9");
  const noPosition = await problem(await w.admin("PUT", `houses/${HOUSE_ID}/cameras/${cam.id}`, {}));
  assert.deepEqual((noPosition.errors as { field: string }[]).map((e) => e.field), ["lat", "lon"]);
  const badPosition = await problem(
    await w.admin("PUT", `houses/${HOUSE_ID}/cameras/${cam.id}`, { lat: "95", lon: "x" }),
  );
  assert.deepEqual((badPosition.errors as { field: string }[]).map((e) => e.field).sort(), ["lat", "lon"]);
  const unknown = await w.admin("PUT", `houses/${HOUSE_ID}/cameras/${crypto.randomUUID()}`, {
    lat: "1",
    lon: "2",
  });
  assert.equal((await problem(unknown)).status, 404);
  await expectJson(
    await w.admin("PUT", `houses/${HOUSE_ID}/cameras/${cam.id}`, { lat: 52.1, lon: "41.2" }),
    201,
  );
  const changed = await expectJson(
    await w.admin("PUT", `houses/${HOUSE_ID}/cameras/${cam.id}`, {
      server_type: "nimble",
      hls_mode: "mpegts",
      dvr_url: "https://dvr2.example.net/live/yard-9/",
      has_sound: true,
    }),
    200,
  );
  assert.deepEqual([changed.lat, changed.server_type, changed.dvr_url], [
    "52.1",
    "nimble",
    "https://dvr2.example.net/live/yard-9",
  ]);
  billPhone(w);
  const token = await w.login();
  const list = await expectJson(await w.call("cctv/all", {}, token), 200);
  const [item] = list.data as Record<string, unknown>[];
  assert.deepEqual(
    [item.url, item.serverType, item.hlsMode, item.hasSound, item.lat],
    ["https://dvr2.example.net/live/yard-9", "nimble", "mpegts", true, "52.1"],
  );
});

Deno.test("the contracts cache: billing's answers per phone, listed and purged by admins", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  await expectJson(await w.call("address/getAddressList", {}, token), 200);
  await expectJson(await w.call("user/getPaymentsList", {}, token), 200);
  const res = await expectJson(await w.admin("GET", `contracts?phone=${PHONE}`), 200);
  const [entry] = res.contracts as Record<string, unknown>[];
  assert.equal(entry.phone, PHONE_E164);
  assert.deepEqual(entry.addresses, [{ houseId: HOUSE_ID, address: "Тамбов, ул. Уборевича, дом 9" }]);
  assert.deepEqual((entry.contracts as { clientId: string }[]).map((c) => c.clientId), [CLIENT_ID]);
  assert.equal((await w.admin("DELETE", `contracts/${PHONE}`)).status, 204);
  assert.equal((await problem(await w.admin("DELETE", `contracts/${PHONE}`))).status, 404);
  assert.deepEqual((await expectJson(await w.admin("GET", "contracts"), 200)).contracts, []);
});

Deno.test("invoices are listed newest first with their statuses, filtered by status and phone", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  const a =
    (await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "100" }, token), 200)).data;
  w.t.clock.advance(1000);
  const b =
    (await expectJson(await w.call("pay/prepare", { clientId: CLIENT_ID, amount: "250" }, token), 200)).data;
  const reg = await expectJson(await w.call("pay/register", { orderNumber: b, amount: 250 }), 200);
  const orderId = (reg.data as { orderId: string }).orderId;
  w.bank.pay(orderId);
  await (await w.t.app.request(`/api/pay/callback?${new URLSearchParams(w.bank.callbackParams(orderId))}`))
    .body
    ?.cancel();
  const all = await expectJson(await w.admin("GET", "invoices"), 200);
  assert.deepEqual(
    (all.invoices as { number: string; status: string; amount: number }[]).map((
      i,
    ) => [i.number, i.status, i.amount]),
    [[b, "paid", 250], [a, "created", 100]],
  );
  const paid = await expectJson(await w.admin("GET", `invoices?status=paid&phone=%2B79161234567`), 200);
  assert.deepEqual((paid.invoices as { number: string }[]).map((i) => i.number), [b]);
  assert.equal((await problem(await w.admin("GET", "invoices?status=nope"))).status, 422);
  const one = await expectJson(await w.admin("GET", `invoices/${b}`), 200);
  assert.deepEqual([one.bank_order_id, one.billing_notified, one.paid_via], [orderId, true, "callback"]);
  assert.equal((await problem(await w.admin("GET", "invoices/nope"))).status, 404);
  const settled = await expectJson(await w.admin("POST", "settle"), 200);
  assert.deepEqual(settled, { polled: 0, failed: 0, expired: 0, notified: 0 });
});
