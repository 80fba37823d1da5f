import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { loadConfig } from "../src/config.ts";
import { addCamera, ADMIN, bearer, cameraList, grant, viewer } from "./camera_helpers.ts";
import { problem, testApp } from "./helpers.ts";

Deno.test("POST /api/v1/cameras creates a camera and answers 201 with it; GET /api/v1/cameras/:id reads it", async () => {
  await using t = await testApp();
  const res = await t.json(
    "POST",
    "/api/v1/cameras",
    { stream: "gate-1", title: "Main gate", location: "Petőfi u. 12" },
    ADMIN,
  );
  assert.equal(res.status, 201);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const cam = await res.json();
  assert.match(cam.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(cam, {
    id: cam.id,
    stream: "gate-1",
    title: "Main gate",
    location: "Petőfi u. 12",
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  });
  const got = await t.json("GET", `/api/v1/cameras/${cam.id}`, undefined, ADMIN);
  assert.equal(got.status, 200);
  assert.deepEqual(await got.json(), cam);
});

Deno.test("POST /api/v1/cameras answers 409 for a stream name already in use, and PATCH onto one too", async () => {
  await using t = await testApp();
  await addCamera(t, "gate-1");
  const other = await addCamera(t, "gate-2");
  const dup = await t.json("POST", "/api/v1/cameras", { stream: "gate-1", title: "Again" }, ADMIN);
  assert.equal(dup.status, 409);
  const body = await problem(dup);
  assert.equal(body.status, 409);
  assert.equal(body.stream, "gate-1");
  const rename = await t.json("PATCH", `/api/v1/cameras/${other.id}`, { stream: "gate-1" }, ADMIN);
  assert.equal(rename.status, 409);
  assert.equal((await problem(rename)).status, 409);
  const list = await (await t.json("GET", "/api/v1/cameras", undefined, ADMIN)).json();
  assert.deepEqual(list.cameras.map((c: { stream: string }) => c.stream), ["gate-1", "gate-2"]);
});

Deno.test("POST /api/v1/cameras answers 422 naming the field for bad stream names and missing titles", async () => {
  await using t = await testApp();
  for (
    const [body, field] of [
      [{ stream: "a/b", title: "x" }, "stream"],
      [{ stream: "..", title: "x" }, "stream"],
      [{ stream: "", title: "x" }, "stream"],
      [{ stream: "has space", title: "x" }, "stream"],
      [{ stream: "x".repeat(129), title: "x" }, "stream"],
      [{ stream: "ok" }, "title"],
      [{ stream: "ok", title: "   " }, "title"],
      [{ stream: "ok", title: "x", location: 5 }, "location"],
    ] as const
  ) {
    const res = await t.json("POST", "/api/v1/cameras", body, ADMIN);
    assert.equal(res.status, 422, JSON.stringify(body));
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), [field]);
  }
  const list = await (await t.json("GET", "/api/v1/cameras", undefined, ADMIN)).json();
  assert.deepEqual(list.cameras, []);
});

Deno.test("camera admin routes answer 401 without credentials and 403 to a user token", async () => {
  await using t = await testApp();
  const cam = await addCamera(t, "gate-1");
  const { access_token, user } = await t.login();
  const calls: [string, string, unknown?][] = [
    ["POST", "/api/v1/cameras", { stream: "x", title: "x" }],
    ["GET", `/api/v1/cameras/${cam.id}`],
    ["PATCH", `/api/v1/cameras/${cam.id}`, { title: "y" }],
    ["DELETE", `/api/v1/cameras/${cam.id}`],
    ["GET", `/api/v1/cameras/${cam.id}/users`],
    ["PUT", `/api/v1/cameras/${cam.id}/users/${user.id}`],
    ["DELETE", `/api/v1/cameras/${cam.id}/users/${user.id}`],
    ["GET", `/api/v1/camera-viewers/${user.id}`],
    ["PUT", `/api/v1/camera-viewers/${user.id}`, { max_sessions: 1 }],
  ];
  for (const [method, path, body] of calls) {
    const anon = await t.json(method, path, body);
    assert.equal(anon.status, 401, `${method} ${path}`);
    assert.equal((await problem(anon)).status, 401);
    const asUser = await t.json(method, path, body, bearer(access_token));
    assert.equal(asUser.status, 403, `${method} ${path}`);
    assert.equal((await problem(asUser)).status, 403);
  }
  const unchanged = await t.json("GET", `/api/v1/cameras/${cam.id}/users`, undefined, ADMIN);
  assert.deepEqual((await unchanged.json()).users, []);
});

Deno.test("PATCH /api/v1/cameras/:id changes the given fields only; DELETE removes it and its grants", async () => {
  await using t = await testApp();
  const cam = await addCamera(t, "gate-1", { title: "Gate", location: "Yard" });
  t.clock.advance(5_000);
  const res = await t.json(
    "PATCH",
    `/api/v1/cameras/${cam.id}`,
    { title: "North gate", location: null },
    ADMIN,
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.stream, "gate-1");
  assert.equal(body.title, "North gate");
  assert.equal(body.location, null);
  assert.equal(body.updated_at, "2026-01-01T00:00:05.000Z");
  const empty = await t.json("PATCH", `/api/v1/cameras/${cam.id}`, {}, ADMIN);
  assert.equal(empty.status, 422);
  await empty.body?.cancel();

  const { user, access_token } = await t.login();
  await grant(t, cam.id, user.id);
  const del = await t.json("DELETE", `/api/v1/cameras/${cam.id}`, undefined, ADMIN);
  assert.equal(del.status, 204);
  assert.equal(await del.text(), "");
  const gone = await t.json("GET", `/api/v1/cameras/${cam.id}`, undefined, ADMIN);
  assert.equal(gone.status, 404);
  assert.equal((await problem(gone)).status, 404);
  const again = await t.json("DELETE", `/api/v1/cameras/${cam.id}`, undefined, ADMIN);
  assert.equal(again.status, 404);
  await again.body?.cancel();
  assert.deepEqual((await cameraList(t, access_token)).cameras, []);
});

Deno.test("camera ids in paths must be UUIDs (422) and unknown ones are 404", async () => {
  await using t = await testApp();
  const bad = await t.json("GET", "/api/v1/cameras/not-a-uuid", undefined, ADMIN);
  assert.equal(bad.status, 422);
  assert.deepEqual(((await problem(bad)).errors as { field: string }[]).map((e) => e.field), ["id"]);
  const unknown = await t.json("GET", `/api/v1/cameras/${crypto.randomUUID()}`, undefined, ADMIN);
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("PUT /api/v1/cameras/:id/users/:user_id grants (201, then 200 unchanged) and DELETE revokes (204, then 404)", async () => {
  await using t = await testApp();
  const cam = await addCamera(t, "gate-1");
  const { user } = await t.login();
  const first = await t.json("PUT", `/api/v1/cameras/${cam.id}/users/${user.id}`, undefined, ADMIN);
  assert.equal(first.status, 201);
  const g = await first.json();
  assert.deepEqual(g, { camera_id: cam.id, user_id: user.id, granted_at: "2026-01-01T00:00:00.000Z" });
  t.clock.advance(1000);
  const second = await t.json("PUT", `/api/v1/cameras/${cam.id}/users/${user.id}`, undefined, ADMIN);
  assert.equal(second.status, 200);
  assert.deepEqual(await second.json(), g);
  const list = await t.json("GET", `/api/v1/cameras/${cam.id}/users`, undefined, ADMIN);
  assert.deepEqual(await list.json(), { users: [g] });

  const del = await t.json("DELETE", `/api/v1/cameras/${cam.id}/users/${user.id}`, undefined, ADMIN);
  assert.equal(del.status, 204);
  await del.body?.cancel();
  const again = await t.json("DELETE", `/api/v1/cameras/${cam.id}/users/${user.id}`, undefined, ADMIN);
  assert.equal(again.status, 404);
  await again.body?.cancel();
  const unknownUser = await t.json(
    "PUT",
    `/api/v1/cameras/${cam.id}/users/${crypto.randomUUID()}`,
    undefined,
    ADMIN,
  );
  assert.equal(unknownUser.status, 404);
  assert.match(String((await problem(unknownUser)).detail), /user/);
  const unknownCam = await t.json(
    "PUT",
    `/api/v1/cameras/${crypto.randomUUID()}/users/${user.id}`,
    undefined,
    ADMIN,
  );
  assert.equal(unknownCam.status, 404);
  assert.match(String((await problem(unknownCam)).detail), /camera/);
});

Deno.test("GET /api/v1/cameras gives a user only their cameras, each with play URLs, and a token for exactly those", async () => {
  await using t = await testApp();
  const { login, cameras } = await viewer(t, ["gate-1", "yard-2"]);
  await addCamera(t, "not-mine");
  const res = await t.app.request("/api/v1/cameras", { headers: bearer(login.access_token) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ["cameras", "expires_at", "token"]);
  assert.equal(body.expires_at, "2026-01-01T06:00:00.000Z"); // CAMERA_TOKEN_TTL_MIN = 360
  assert.deepEqual(body.cameras, [
    {
      id: cameras[0].id,
      stream: "gate-1",
      title: "Camera gate-1",
      location: null,
      urls: { hls: `http://localhost:8080/gate-1/index.m3u8?token=${body.token}` },
    },
    {
      id: cameras[1].id,
      stream: "yard-2",
      title: "Camera yard-2",
      location: null,
      urls: { hls: `http://localhost:8080/yard-2/index.m3u8?token=${body.token}` },
    },
  ]);
  const claims = decodeJwt(body.token);
  assert.equal(claims.aud, "gatehouse-media");
  assert.equal(claims.sub, login.user.id);
  assert.equal((claims.cams as string[]).length, 2);
  assert.equal(claims.exp! - claims.iat!, 360 * 60);
});

Deno.test("MEDIA_BASE_URL and the MEDIA_*_TEMPLATE settings shape the play URLs", async () => {
  await using t = await testApp({
    config: {
      CAMERA_TOKEN_TTL_MIN: "30",
      MEDIA_BASE_URL: "https://media.example.net/",
      MEDIA_DASH_TEMPLATE: "{base}/{stream}/index.mpd?token={token}",
      MEDIA_RTSP_TEMPLATE: "rtsp://media.example.net:554/{stream}?token={token}",
      MEDIA_PREVIEW_TEMPLATE: "{base}/{stream}/preview.mp4?token={token}",
    },
  });
  const { list } = await viewer(t, ["gate-1"]);
  assert.equal(list.expires_at, "2026-01-01T00:30:00.000Z");
  assert.deepEqual(list.cameras[0].urls, {
    hls: `https://media.example.net/gate-1/index.m3u8?token=${list.token}`,
    dash: `https://media.example.net/gate-1/index.mpd?token=${list.token}`,
    rtsp: `rtsp://media.example.net:554/gate-1?token=${list.token}`,
    preview: `https://media.example.net/gate-1/preview.mp4?token=${list.token}`,
  });
});

Deno.test("a URL template without {stream} or {token} is a configuration error", () => {
  assert.throws(() => loadConfig({ MEDIA_HLS_TEMPLATE: "{base}/{stream}/index.m3u8" }), /MEDIA_HLS_TEMPLATE/);
  assert.throws(
    () => loadConfig({ MEDIA_DASH_TEMPLATE: "{base}/live.mpd?token={token}" }),
    /MEDIA_DASH_TEMPLATE/,
  );
});

Deno.test("GET /api/v1/cameras with the admin key lists every camera, paged, and issues no token", async () => {
  await using t = await testApp();
  for (const s of ["c", "a", "b"]) await addCamera(t, s);
  const res = await t.json("GET", "/api/v1/cameras", undefined, ADMIN);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["cameras"]);
  assert.deepEqual(body.cameras.map((c: { stream: string }) => c.stream), ["a", "b", "c"]);
  const page = await (await t.json("GET", "/api/v1/cameras?limit=1&offset=1", undefined, ADMIN)).json();
  assert.deepEqual(page.cameras.map((c: { stream: string }) => c.stream), ["b"]);
  const anon = await t.json("GET", "/api/v1/cameras");
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
});

Deno.test("POST /api/v1/cameras/token renews the token without the list; the admin key cannot", async () => {
  await using t = await testApp();
  const { login, list } = await viewer(t, ["gate-1"]);
  t.clock.advance(600_000); // the access token (900 s) still works
  const res = await t.json("POST", "/api/v1/cameras/token", undefined, bearer(login.access_token));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ["expires_at", "token"]);
  assert.equal(body.expires_at, "2026-01-01T06:10:00.000Z");
  assert.notEqual(body.token, list.token);
  assert.deepEqual(decodeJwt(body.token).cams, decodeJwt(list.token).cams);
  const admin = await t.json("POST", "/api/v1/cameras/token", undefined, ADMIN);
  assert.equal(admin.status, 403);
  await admin.body?.cancel();
});

Deno.test("a camera token is not an access token: the API refuses it as a Bearer", async () => {
  await using t = await testApp();
  const { token } = await viewer(t, ["gate-1"]);
  const res = await t.app.request("/api/v1/me", { headers: bearer(token) });
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("GET/PUT /api/v1/camera-viewers/:user_id read and set a user's session limit; null restores the default", async () => {
  await using t = await testApp({ config: { CAMERA_MAX_SESSIONS: "3" } });
  const { user } = await t.login();
  const path = `/api/v1/camera-viewers/${user.id}`;
  const initial = await t.json("GET", path, undefined, ADMIN);
  assert.equal(initial.status, 200);
  assert.deepEqual(await initial.json(), { user_id: user.id, max_sessions: 3, is_default: true });
  const set = await t.json("PUT", path, { max_sessions: 0 }, ADMIN);
  assert.equal(set.status, 200);
  assert.deepEqual(await set.json(), { user_id: user.id, max_sessions: 0, is_default: false });
  const bad = await t.json("PUT", path, { max_sessions: -1 }, ADMIN);
  assert.equal(bad.status, 422);
  await bad.body?.cancel();
  const reset = await t.json("PUT", path, { max_sessions: null }, ADMIN);
  assert.deepEqual(await reset.json(), { user_id: user.id, max_sessions: 3, is_default: true });
  const unknown = await t.json("GET", `/api/v1/camera-viewers/${crypto.randomUUID()}`, undefined, ADMIN);
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("camera changes emit domain events without tokens in them", async () => {
  await using t = await testApp();
  const seen: { type: string; data: Record<string, unknown> }[] = [];
  t.deps.events.on("camera.", (e) => seen.push({ type: e.type, data: e.data }));
  const { token, login, cameras } = await viewer(t, ["gate-1"]);
  assert.deepEqual(seen.map((e) => e.type), ["camera.created", "camera.granted", "camera.token_issued"]);
  assert.deepEqual(seen[2].data, { user_id: login.user.id, session_id: decodeJwt(token).sid, cameras: 1 });
  assert.ok(seen.every((e) => !JSON.stringify(e.data).includes(token)));
  assert.equal(seen[1].data.camera_id, cameras[0].id);
});
