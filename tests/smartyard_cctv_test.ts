import assert from "node:assert/strict";
import { cameraGrants, smartyardAppTokens, smartyardCameraGrants } from "../db/schema.ts";
import { cameraList, flussonicQuery, grant } from "./camera_helpers.ts";
import {
  billPhone,
  envelopeError,
  expectJson,
  HOUSE_ID,
  PHONE,
  PHONE_E164,
  seedHouse,
  smartyardWorld,
} from "./smartyard_helpers.ts";

type Cam = { id: number; name: string; lat: string; lon: string; url: string; token: string };

Deno.test("POST /api/cctv/all lists the house's cameras: int ids, string lat/lon, stream base url, one token", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1", "yard-2"] });
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("cctv/all", { houseId: HOUSE_ID }, token), 200);
  const cams = body.data as Cam[];
  assert.equal(cams.length, 2);
  assert.deepEqual(cams.map((c) => ({ ...c, token: "…", id: typeof c.id })), [
    {
      id: "number",
      name: "Камера 1 (yard-1)",
      lat: "52.7212",
      lon: "41.4523",
      url: "https://dvr.example.net/yard-1",
      token: "…",
      serverType: "flussonic",
      hlsMode: "fmp4",
      hasSound: false,
    },
    {
      id: "number",
      name: "Камера 2 (yard-2)",
      lat: "52.7212",
      lon: "41.4523",
      url: "https://dvr.example.net/yard-2",
      token: "…",
      serverType: "flussonic",
      hlsMode: "fmp4",
      hasSound: false,
    },
  ]);
  assert.equal(cams[0].token, cams[1].token);
  assert.notEqual(cams[0].id, cams[1].id);
});

Deno.test("POST /api/cctv/all takes houseId as an int, a string or not at all", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  await seedHouse(w, {
    id: 202,
    address: "Тамбов, ул. Советская, 5",
    streams: ["street-1"],
    domophoneId: 54,
  });
  billPhone(w);
  await expectJson(await w.admin("PUT", `houses/202/residents/${PHONE}`, {}), 201);
  const token = await w.login();
  const names = async (body: unknown) =>
    ((await expectJson(await w.call("cctv/all", body, token), 200)).data as Cam[]).map((c) => c.url);
  assert.deepEqual(await names({ houseId: 101 }), ["https://dvr.example.net/yard-101"]);
  assert.deepEqual(await names({ houseId: "202" }), ["https://dvr.example.net/street-1"]);
  assert.deepEqual((await names(undefined)).sort(), [
    "https://dvr.example.net/street-1",
    "https://dvr.example.net/yard-101",
  ]);
  assert.deepEqual((await names({ houseId: null })).length, 2);
});

Deno.test("POST /api/cctv/all for a house that is not the user's is a 404; for their house without cameras, 204", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w);
  await expectJson(await w.admin("POST", "houses", { id: 300, address: "Пустой дом" }), 201);
  await expectJson(await w.admin("PUT", `houses/300/residents/${PHONE}`, {}), 201);
  const token = await w.login();
  await envelopeError(await w.call("cctv/all", { houseId: 101 }, token), 404);
  assert.equal((await w.call("cctv/all", { houseId: 300 }, token)).status, 204);
});

Deno.test("the camera token of cctv/all passes Flussonic's new_session check at /api/accessfl and v1 media auth", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1"] });
  billPhone(w);
  const token = await w.login();
  const [cam] = (await expectJson(await w.call("cctv/all", {}, token), 200)).data as Cam[];
  const legacy = await w.t.app.request(
    `/api/accessfl?${flussonicQuery({ name: "yard-1", token: cam.token })}`,
  );
  assert.equal(legacy.status, 200);
  assert.ok(Number(legacy.headers.get("x-authduration")) >= 1);
  const v1 = await w.t.app.request(
    `/api/v1/media/auth?${flussonicQuery({ name: "yard-1", token: cam.token })}`,
  );
  assert.equal(v1.status, 200);
  // not for another stream, and not with the app's bearer token
  const other = await w.t.app.request(
    `/api/accessfl?${flussonicQuery({ name: "yard-2", token: cam.token })}`,
  );
  assert.equal(other.status, 403);
  const bearer = await w.t.app.request(`/api/accessfl?${flussonicQuery({ name: "yard-1", token })}`);
  assert.equal(bearer.status, 403);
});

Deno.test("a later camera list (cctv/all, camMap, overview) does not break a stream opened with an earlier token", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1"], doorCamera: true });
  billPhone(w);
  const token = await w.login();
  const [first] = (await expectJson(await w.call("cctv/all", {}, token), 200)).data as Cam[];
  w.t.clock.advance(1000);
  for (const path of ["cctv/camMap", "cctv/overview", "cctv/all"]) {
    const again = (await expectJson(await w.call(path, {}, token), 200)).data as Cam[];
    assert.notEqual(again[0].token, first.token, path);
  }
  const q = flussonicQuery({ name: "yard-1", token: first.token, requestType: "update_session" });
  assert.equal((await w.t.app.request(`/api/accessfl?${q}`)).status, 200);
});

Deno.test("POST /api/cctv/camMap lists each door panel's camera with a string id; no body needed", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["door-cam"], doorCamera: true });
  billPhone(w);
  const token = await w.login();
  const res = await w.t.app.request("/api/cctv/camMap", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await expectJson(res, 200);
  const items = body.data as { id: string; url: string; token: string; frs: string }[];
  assert.deepEqual(items.map((i) => ({ ...i, token: typeof i.token })), [{
    id: "53",
    url: "https://dvr.example.net/door-cam",
    token: "string",
    frs: "f",
    serverType: "flussonic",
    hlsMode: "fmp4",
  }]);
  const q = flussonicQuery({ name: "door-cam", token: items[0].token });
  assert.equal((await w.t.app.request(`/api/accessfl?${q}`)).status, 200);
});

Deno.test("POST /api/cctv/overview lists every camera of the user's houses (204 when none)", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["a", "b"] });
  const nobody = await w.login("79161234599");
  assert.equal((await w.call("cctv/overview", {}, nobody)).status, 204);
  billPhone(w);
  const token = await w.login();
  const body = await expectJson(await w.call("cctv/overview", {}, token), 200);
  assert.equal((body.data as Cam[]).length, 2);
});

Deno.test("taking a camera from the house stops the user's earlier token for it; admins' own grants stay", async () => {
  await using w = await smartyardWorld();
  const { cameraIds } = await seedHouse(w, { streams: ["yard-1", "yard-2"] });
  billPhone(w);
  const token = await w.login();
  const [{ userId }] = await w.t.deps.db.select({ userId: smartyardAppTokens.userId }).from(
    smartyardAppTokens,
  );
  // before the house gave it, an admin granted yard-2 directly (v1 API): that grant is not the house's to take
  await grant(w.t, cameraIds[1], userId);
  const cams = (await expectJson(await w.call("cctv/all", {}, token), 200)).data as Cam[];
  assert.equal((await w.admin("DELETE", `houses/${HOUSE_ID}/cameras/${cameraIds[0]}`)).status, 204);
  assert.equal((await w.admin("DELETE", `houses/${HOUSE_ID}/cameras/${cameraIds[1]}`)).status, 204);
  const play = async (name: string) =>
    (await w.t.app.request(`/api/accessfl?${flussonicQuery({ name, token: cams[0].token })}`)).status;
  assert.equal(await play("yard-1"), 403);
  assert.equal(await play("yard-2"), 200, "yard-2 was granted by an admin, so it stays");
  const grants = await w.t.deps.db.select().from(cameraGrants);
  assert.deepEqual(grants.map((g) => g.cameraId), [cameraIds[1]]);
  assert.deepEqual(await w.t.deps.db.select().from(smartyardCameraGrants), []);
});

Deno.test("a house camera is an ordinary grant: the same person logged in through v1 sees it too", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1"] });
  billPhone(w);
  const token = await w.login();
  await expectJson(await w.call("cctv/all", {}, token), 200);
  w.t.clock.advance(61_000); // the resend cooldown is shared with the apps' login
  const v1 = await w.t.login(PHONE_E164);
  const list = await cameraList(w.t, v1.access_token);
  assert.deepEqual(list.cameras.map((c) => c.stream), ["yard-1"]);
});

Deno.test("revoking the app's login session stops its camera tokens at the media server", async () => {
  await using w = await smartyardWorld();
  await seedHouse(w, { streams: ["yard-1"] });
  billPhone(w);
  const token = await w.login();
  const [cam] = (await expectJson(await w.call("cctv/all", {}, token), 200)).data as Cam[];
  const sessions = await w.t.deps.db.select().from(cameraGrants);
  const list = await expectJson(await w.admin("GET", `users/${sessions[0].userId}/app-sessions`), 200);
  const sid = (list.sessions as { session_id: string }[])[0].session_id;
  assert.equal((await w.admin("DELETE", `app-sessions/${sid}`)).status, 204);
  const q = flussonicQuery({ name: "yard-1", token: cam.token });
  assert.equal((await w.t.app.request(`/api/accessfl?${q}`)).status, 403);
});
