import assert from "node:assert/strict";
import { smartyardBillingCache } from "../db/schema.ts";
import {
  billPhone,
  envelopeError,
  expectJson,
  HOUSE_ADDRESS,
  PHONE,
  PHONE_E164,
  seedHouse,
  smartyardWorld,
} from "./smartyard_helpers.ts";

Deno.test("POST /api/address/getAddressList lists billing's house with its doors and camera count, string ids", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1", "yard-2"] });
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("address/getAddressList", undefined, token), 200);
  assert.deepEqual(body.data, [{
    houseId: "101",
    address: HOUSE_ADDRESS,
    cctv: 2,
    hasPlog: "f",
    doors: [{ domophoneId: "53", doorId: 0, entrance: "1", icon: "entrance", name: "Подъезд 1" }],
  }]);
  assert.deepEqual(w.billing.callsOf("getaddresslist").map((c) => c.body), [{ phone: 79161234567 }]);
});

Deno.test("POST /api/address/getAddressList answers 204 with no body when the user has no address", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  const res = await w.call("address/getAddressList", undefined, token);
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
});

Deno.test("an admin grant gives a phone a house billing does not know about, with the flat", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { id: 7, address: "Тамбов, ул. Мичуринская, 1" });
  const put = await w.admin("PUT", `houses/7/residents/${PHONE}`, { flat: "12" });
  assert.equal((await expectJson(put, 201)).phone, PHONE_E164);
  const token = await w.login();
  const list = await expectJson(await w.call("address/getAddressList", {}, token), 200);
  assert.deepEqual((list.data as { houseId: string }[]).map((a) => a.houseId), ["7"]);
  const settings = await expectJson(await w.call("address/getSettingsList", {}, token), 200);
  assert.deepEqual(settings.data, [{
    address: "Тамбов, ул. Мичуринская, 1",
    houseId: "7",
    flatNumber: "12",
    services: ["domophone", "cctv"],
    hasGates: "f",
    hasPlog: "f",
    roommates: [],
  }]);
  // revoking the grant takes the address away
  assert.equal((await w.admin("DELETE", `houses/7/residents/%2B79161234567`)).status, 204);
  assert.equal((await w.call("address/getAddressList", {}, token)).status, 204);
});

Deno.test("a billing house not set up here is listed with billing's address and no doors", async () => {
  await using w = await smartyardWorld();
  w.billing.addresses.set(PHONE, [{ houseId: "555", address: "Тамбов, ул. Новая, 3" }]);
  const token = await w.login();
  const body = await expectJson(await w.call("address/getAddressList", {}, token), 200);
  assert.deepEqual(body.data, [{
    houseId: "555",
    address: "Тамбов, ул. Новая, 3",
    cctv: 0,
    hasPlog: "f",
    doors: [],
  }]);
});

Deno.test("POST /api/address/getSettingsList joins billing's contracts to the houses", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("address/getSettingsList", {}, token), 200);
  assert.deepEqual(body.data, [{
    address: HOUSE_ADDRESS,
    houseId: "101",
    services: ["internet", "domophone", "cctv"],
    clientId: "89545",
    contractName: "ФЛ-84235/20",
    contractOwner: "t",
    hasGates: "f",
    hasPlog: "f",
    roommates: [],
  }]);
});

Deno.test("billing down: the address list uses billing's last answer; with none, a fast 502 with Retry-After", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  await expectJson(await w.call("address/getAddressList", {}, token), 200);
  w.billing.mode = "hang";
  const started = performance.now();
  const cached = await expectJson(await w.call("address/getAddressList", {}, token), 200);
  assert.ok(performance.now() - started < 3000, "the billing timeout (500 ms) bounds the wait");
  assert.deepEqual((cached.data as { houseId: string }[]).map((a) => a.houseId), ["101"]);
  assert.ok(w.t.log.lines.some((l) => l.includes("billing down: using cached addresses")));
  // another phone has nothing cached
  w.billing.mode = "down";
  const other = await w.login("79161234599");
  const res = await w.call("address/getAddressList", {}, other);
  assert.equal(res.headers.get("retry-after"), "30");
  const e = await envelopeError(res, 502);
  assert.match(String(e.data.detail), /billing answered HTTP 500/);
});

Deno.test("billing answers that do not fit the contract are a 502, and nothing is cached", async () => {
  await using w = await smartyardWorld();
  w.billing.addresses.set(PHONE, [{ houseId: "twelve", address: "x" }]);
  const token = await w.login();
  const e = await envelopeError(await w.call("address/getAddressList", {}, token), 502);
  assert.match(String(e.data.detail), /unexpected answer to getaddresslist at data\.0\.houseId/);
  assert.deepEqual(await w.t.deps.db.select().from(smartyardBillingCache), []);
});

Deno.test("POST /api/address/openDoor opens the door with the panel's HTTP GET and Basic auth from the secrets", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  const res = await w.call("address/openDoor", { domophoneId: "53", doorId: 0 }, token);
  assert.equal(res.status, 204);
  assert.deepEqual(w.panel.opens.map((o) => o.action), ["maindoor"]);
  assert.deepEqual(w.panel.unauthorized, []);
  // Android sends the panel id as a number and may leave doorId out
  assert.equal((await w.call("address/openDoor", { domophoneId: 53 }, token)).status, 204);
  assert.equal(w.panel.opens.length, 2);
  assert.ok(!w.t.log.lines.some((l) => l.includes(w.panel.password)), "the panel password is never logged");
});

Deno.test("POST /api/address/openDoor answers 404 for a door at someone else's house and opens nothing", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  const token = await w.login(); // billing links this phone to nothing
  const e = await envelopeError(
    await w.call("address/openDoor", { domophoneId: "53", doorId: 0 }, token),
    404,
  );
  assert.equal(e.message, "Дверь не найдена");
  assert.equal(w.panel.opens.length, 0);
});

Deno.test("POST /api/address/openDoor: a panel that fails or hangs is a fast 502 with Retry-After", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  w.panel.mode = "down";
  const down = await w.call("address/openDoor", { domophoneId: "53" }, token);
  assert.equal(down.headers.get("retry-after"), "5");
  assert.equal((await envelopeError(down, 502)).message, "Домофон не отвечает, попробуйте ещё раз");
  w.panel.mode = "hang";
  const started = performance.now();
  const hung = await w.call("address/openDoor", { domophoneId: "53" }, token);
  assert.ok(performance.now() - started < 3000);
  assert.match(String((await envelopeError(hung, 502)).data.detail), /timed out/);
});

Deno.test("doors keep opening during a billing outage (billing's last answer, even when stale)", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  await expectJson(await w.call("address/getAddressList", {}, token), 200);
  w.t.clock.advance(3600_000);
  w.billing.mode = "down";
  assert.equal((await w.call("address/openDoor", { domophoneId: "53" }, token)).status, 204);
  assert.equal(w.panel.opens.length, 1);
});

Deno.test("a phone billing stops listing loses the house (and its doors) at the next list", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  billPhone(w);
  const token = await w.login();
  await expectJson(await w.call("address/getAddressList", {}, token), 200);
  w.billing.addresses.delete(PHONE);
  assert.equal((await w.call("address/getAddressList", {}, token)).status, 204);
  await envelopeError(await w.call("address/openDoor", { domophoneId: "53" }, token), 404);
});

Deno.test("billing down with nothing cached: a door of an admin-granted house still opens", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  await expectJson(await w.admin("PUT", `houses/101/residents/${PHONE}`, {}), 201);
  const token = await w.login();
  w.billing.mode = "down";
  assert.equal((await w.call("address/openDoor", { domophoneId: "53" }, token)).status, 204);
  // a door that is not theirs is then the billing outage (it might be billing's), not a 404
  const other = await w.call("address/openDoor", { domophoneId: "99" }, token);
  assert.equal(other.headers.get("retry-after"), "30");
  await envelopeError(other, 502);
  assert.equal(w.panel.opens.length, 1);
});
