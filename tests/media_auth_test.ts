import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createApp } from "../src/app.ts";
import { EventBus } from "../src/events.ts";
import {
  addCamera,
  ADMIN,
  bearer,
  cameraList,
  flussonicQuery,
  grant,
  instrumentDb,
  mediaMtxBody,
  revoke,
  viewer,
} from "./camera_helpers.ts";
import { type TestApp, testApp } from "./helpers.ts";

type App = Pick<TestApp, "app">;

function flussonic(t: App, q: Parameters<typeof flussonicQuery>[0], path = "/api/v1/media/auth") {
  return Promise.resolve(t.app.request(`${path}?${flussonicQuery(q)}`));
}

function nginx(t: App, originalUri?: string) {
  return Promise.resolve(t.app.request("/api/v1/media/auth/nginx", {
    headers: originalUri === undefined ? {} : { "x-original-uri": originalUri },
  }));
}

function mediamtx(t: App, body: unknown) {
  return Promise.resolve(t.app.request("/api/v1/media/auth/mediamtx", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }));
}

/** Asserts a Flussonic allow: 200, empty body, and the headers Flussonic reads. */
async function assertAllowed(
  res: Response,
  expect: { duration: string; userId: string; maxSessions?: string },
) {
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
  assert.equal(res.headers.get("x-authduration"), expect.duration);
  assert.equal(res.headers.get("x-userid"), expect.userId);
  assert.equal(res.headers.get("x-max-sessions"), expect.maxSessions ?? null);
}

async function assertDenied(res: Response, status = 403, label?: string) {
  assert.equal(res.status, status, label);
  assert.equal(await res.text(), "", label);
  assert.equal(res.headers.get("x-userid"), null, label);
}

Deno.test("GET /api/v1/media/auth allows Flussonic's new_session and update_session for a granted stream", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  const first = await flussonic(t, { name: "gate-1", token, requestType: "new_session" });
  await assertAllowed(first, { duration: "60", userId: login.user.id });
  t.clock.advance(60_000);
  const update = await flussonic(t, {
    name: "gate-1",
    token,
    requestType: "update_session",
    requestNumber: 1,
  });
  await assertAllowed(update, { duration: "60", userId: login.user.id });
  // A DVR request carries `type` and `media_request` as well.
  const dvr = await flussonic(t, {
    name: "gate-1",
    token,
    extra: { type: "dvr", media_request: "/gate-1/archive-1767225600-3600.m3u8" },
  });
  await assertAllowed(dvr, { duration: "60", userId: login.user.id });
});

Deno.test("GET /api/accessfl (legacy) answers exactly like /api/v1/media/auth", async () => {
  await using t = await testApp({ config: { CAMERA_MAX_SESSIONS: "2" } });
  const { token, login } = await viewer(t, ["gate-1", "yard-2"]);
  for (const [name, tok] of [["gate-1", token], ["yard-2", token], ["other", token], ["gate-1", "junk"]]) {
    const v1 = await flussonic(t, { name, token: tok });
    const legacy = await flussonic(t, { name, token: tok }, "/api/accessfl");
    assert.equal(legacy.status, v1.status, name);
    for (const h of ["x-authduration", "x-userid", "x-max-sessions"]) {
      assert.equal(legacy.headers.get(h), v1.headers.get(h), `${name} ${h}`);
    }
    assert.equal(await legacy.text(), await v1.text());
  }
  await assertAllowed(await flussonic(t, { name: "gate-1", token }, "/api/accessfl"), {
    duration: "60",
    userId: login.user.id,
    maxSessions: "2",
  });
});

Deno.test("Flussonic gets the token from `qs` when `token` itself is absent", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  const q = new URLSearchParams(flussonicQuery({ name: "gate-1", token }));
  q.delete("token");
  const res = await t.app.request(`/api/v1/media/auth?${q}`);
  await assertAllowed(res, { duration: "60", userId: login.user.id });
});

Deno.test("X-Max-Sessions is sent only when the user has a limit: CAMERA_MAX_SESSIONS or their own", async () => {
  await using t = await testApp({ config: { CAMERA_MAX_SESSIONS: "0" } });
  const { token, login } = await viewer(t, ["gate-1"]);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  const set = await t.json("PUT", `/api/v1/camera-viewers/${login.user.id}`, { max_sessions: 2 }, ADMIN);
  assert.equal(set.status, 200);
  await set.body?.cancel();
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
    maxSessions: "2",
  });
  await using limited = await testApp({ config: { CAMERA_MAX_SESSIONS: "4" } });
  const other = await viewer(limited, ["gate-1"]);
  await assertAllowed(await flussonic(limited, { name: "gate-1", token: other.token }), {
    duration: "60",
    userId: other.login.user.id,
    maxSessions: "4",
  });
});

Deno.test("Flussonic checks are denied with 403 and an empty body: no token, garbage, expired, not granted, unknown stream", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  const mine = await cameraList(t, login.access_token);
  await addCamera(t, "someone-else");
  const otherKey = new TextEncoder().encode("another-secret-another-secret-another-secret");
  const forged = await new SignJWT({ sub: login.user.id, sid: "x", cams: [] }).setProtectedHeader({
    alg: "HS256",
  })
    .setIssuer("gatehouse").setAudience("gatehouse-media").setIssuedAt().setExpirationTime("1h").sign(
      otherKey,
    );
  const cases: [string, Parameters<typeof flussonicQuery>[0]][] = [
    ["no token", { name: "gate-1" }],
    ["empty token", { name: "gate-1", token: "" }],
    ["garbage", { name: "gate-1", token: "garbage" }],
    ["access token", { name: "gate-1", token: login.access_token }],
    ["signed with another key", { name: "gate-1", token: forged }],
    ["tampered", { name: "gate-1", token: token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA") }],
    ["not granted", { name: "someone-else", token }],
    ["unknown stream", { name: "no-such-stream", token }],
    ["no stream", { name: "", token }],
  ];
  for (const [label, q] of cases) await assertDenied(await flussonic(t, q), 403, label);
  assert.equal(mine.cameras.length, 1);
  t.clock.advance(360 * 60_000);
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "expired");
});

Deno.test("X-AuthDuration never exceeds the remaining token life, and a token with under 1 s left is denied", async () => {
  await using t = await testApp({ config: { CAMERA_TOKEN_TTL_MIN: "2", MEDIA_AUTH_CACHE_S: "60" } });
  const { token, login } = await viewer(t, ["gate-1"]);
  // Issued at 00:00:00 for 120 s; check at many points of its life.
  for (
    const [atMs, duration] of [[0, 60], [59_000, 60], [60_000, 60], [61_000, 59], [90_500, 29], [119_000, 1]]
  ) {
    t.clock.advance(atMs - (t.clock.now().getTime() - Date.parse("2026-01-01T00:00:00Z")));
    const res = await flussonic(t, { name: "gate-1", token, requestType: "update_session" });
    await assertAllowed(res, { duration: String(duration), userId: login.user.id });
    const left = Date.parse("2026-01-01T00:02:00Z") - t.clock.now().getTime();
    assert.ok(Number(res.headers.get("x-authduration")) * 1000 <= left, `at ${atMs} ms`);
  }
  t.clock.advance(500); // 119.5 s: half a second left
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "under a second left");
  t.clock.advance(500);
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "expired");
});

Deno.test("a token is bound to the cameras it was issued for: a camera granted later needs a new token", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  const cam = await addCamera(t, "yard-2");
  await grant(t, cam.id, login.user.id);
  await assertDenied(await flussonic(t, { name: "yard-2", token }), 403, "old token, new camera");
  t.clock.advance(1000);
  const fresh = await cameraList(t, login.access_token);
  await assertAllowed(await flussonic(t, { name: "yard-2", token: fresh.token }), {
    duration: "60",
    userId: login.user.id,
  });
  await assertAllowed(await flussonic(t, { name: "gate-1", token: fresh.token }), {
    duration: "60",
    userId: login.user.id,
  });
});

Deno.test("logout makes the user's camera tokens fail at the next check", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  const out = await t.app.request("/api/v1/auth/logout", {
    method: "POST",
    headers: bearer(login.access_token),
  });
  assert.equal(out.status, 204);
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "after logout");
  await assertDenied(await nginx(t, `/gate-1/index.m3u8?token=${token}`), 403, "nginx after logout");
  await assertDenied(
    await mediamtx(t, mediaMtxBody({ path: "gate-1", token })),
    401,
    "mediamtx after logout",
  );
});

Deno.test("logging out one session leaves the tokens of the user's other sessions working", async () => {
  await using t = await testApp();
  const a = await viewer(t, ["gate-1"], "+36205550001");
  t.clock.advance(61_000);
  const second = await t.login("+36205550001");
  const b = await cameraList(t, second.access_token);
  const out = await t.app.request("/api/v1/auth/logout", {
    method: "POST",
    headers: bearer(a.login.access_token),
  });
  assert.equal(out.status, 204);
  await assertDenied(await flussonic(t, { name: "gate-1", token: a.token }), 403);
  await assertAllowed(await flussonic(t, { name: "gate-1", token: b.token }), {
    duration: "60",
    userId: second.user.id,
  });
});

Deno.test("revoking a grant makes the token fail for that stream only, at the next check", async () => {
  await using t = await testApp();
  const { token, login, cameras } = await viewer(t, ["gate-1", "yard-2"]);
  for (const name of ["gate-1", "yard-2"]) {
    await assertAllowed(await flussonic(t, { name, token }), { duration: "60", userId: login.user.id });
  }
  await revoke(t, cameras[0].id, login.user.id);
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "revoked stream");
  await assertAllowed(await flussonic(t, { name: "yard-2", token }), {
    duration: "60",
    userId: login.user.id,
  });
});

Deno.test("on another instance sharing the database, logout and grant revocation reach the check within MEDIA_AUTH_CACHE_S", async () => {
  await using t = await testApp({ config: { MEDIA_AUTH_CACHE_S: "30" } });
  // A second instance: same database, its own cache and its own (unconnected) event bus.
  const other = { app: createApp({ ...t.deps, events: new EventBus() }) };
  const { token, login, cameras } = await viewer(t, ["gate-1", "yard-2"]);
  for (const name of ["gate-1", "yard-2"]) {
    await assertAllowed(await flussonic(other, { name, token }), { duration: "30", userId: login.user.id });
  }
  t.clock.advance(10_000);
  await revoke(t, cameras[0].id, login.user.id); // on the first instance, at 10 s
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "first instance: at once");
  t.clock.advance(19_999); // 29.999 s after the other instance read its state: still cached there
  await assertAllowed(await flussonic(other, { name: "gate-1", token }), {
    duration: "30",
    userId: login.user.id,
  });
  t.clock.advance(1); // 30 s: the other instance reads again
  await assertDenied(await flussonic(other, { name: "gate-1", token }), 403, "other instance after 30 s");
  await assertAllowed(await flussonic(other, { name: "yard-2", token }), {
    duration: "30",
    userId: login.user.id,
  });

  const out = await t.app.request("/api/v1/auth/logout", {
    method: "POST",
    headers: bearer(login.access_token),
  });
  assert.equal(out.status, 204);
  await assertAllowed(await flussonic(other, { name: "yard-2", token }), {
    duration: "30",
    userId: login.user.id,
  });
  t.clock.advance(30_000);
  await assertDenied(
    await flussonic(other, { name: "yard-2", token }),
    403,
    "other instance after logout + 30 s",
  );
});

Deno.test("on another instance, a token issued after a new grant plays that camera at once, without waiting for the cache", async () => {
  await using t = await testApp({ config: { MEDIA_AUTH_CACHE_S: "60" } });
  const other = { app: createApp({ ...t.deps, events: new EventBus() }) };
  const { token, login } = await viewer(t, ["gate-1"]);
  t.clock.advance(5_000);
  await assertAllowed(await flussonic(other, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  t.clock.advance(5_000);
  const cam = await addCamera(t, "yard-2");
  await grant(t, cam.id, login.user.id);
  const fresh = await cameraList(t, login.access_token); // issued after the other instance read its state
  await assertAllowed(await flussonic(other, { name: "yard-2", token: fresh.token }), {
    duration: "60",
    userId: login.user.id,
  });
  // The old token still does not name the new camera.
  await assertDenied(await flussonic(other, { name: "yard-2", token }), 403, "old token");
});

Deno.test("a renamed camera plays under its new name with the same token; a deleted one is denied", async () => {
  await using t = await testApp();
  const { token, login, cameras } = await viewer(t, ["gate-1"]);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  const patch = await t.json("PATCH", `/api/v1/cameras/${cameras[0].id}`, { stream: "gate-1-hd" }, ADMIN);
  assert.equal(patch.status, 200);
  await patch.body?.cancel();
  await assertDenied(await flussonic(t, { name: "gate-1", token }), 403, "old name");
  await assertAllowed(await flussonic(t, { name: "gate-1-hd", token }), {
    duration: "60",
    userId: login.user.id,
  });
  const del = await t.json("DELETE", `/api/v1/cameras/${cameras[0].id}`, undefined, ADMIN);
  assert.equal(del.status, 204);
  await assertDenied(await flussonic(t, { name: "gate-1-hd", token }), 403, "deleted");
});

Deno.test("a warm check reads nothing from the database; the state is read again after MEDIA_AUTH_CACHE_S", async () => {
  const probe: { selects?: () => number } = {};
  await using t = await testApp({
    deps: (base) => {
      const instrumented = instrumentDb(base.db);
      probe.selects = instrumented.selects;
      return { db: instrumented.db };
    },
  });
  const { token, login } = await viewer(t, ["gate-1"]);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  // A stream missing from state read before the token was issued triggers one re-read (a grant may be new).
  await assertDenied(await flussonic(t, { name: "not-granted", token }), 403);
  const before = probe.selects!();
  for (let i = 0; i < 50; i++) {
    const res = await flussonic(t, { name: "gate-1", token, requestType: "update_session" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    if (i % 10 === 0) await assertDenied(await flussonic(t, { name: `not-granted-${i}`, token }), 403);
  }
  assert.equal(probe.selects!() - before, 0, "no query while the state is fresh");
  t.clock.advance(60_000);
  await assertAllowed(await flussonic(t, { name: "gate-1", token }), {
    duration: "60",
    userId: login.user.id,
  });
  assert.ok(probe.selects!() - before > 0, "the state was read again");
});

Deno.test("only a real internal failure gives a 5xx: a garbage token is 403 even with the database down", async () => {
  const probe: { broken?: { value: boolean } } = {};
  await using t = await testApp({
    deps: (base) => {
      const instrumented = instrumentDb(base.db);
      probe.broken = instrumented.broken;
      return { db: instrumented.db };
    },
  });
  const { token } = await viewer(t, ["gate-1"]);
  probe.broken!.value = true;
  try {
    await assertDenied(await flussonic(t, { name: "gate-1", token: "garbage" }), 403, "garbage");
    await assertDenied(await flussonic(t, { name: "gate-1" }), 403, "no token");
    // A valid token needs the session state, which cannot be read: that is an internal failure.
    const res = await flussonic(t, { name: "gate-1", token });
    assert.equal(res.status, 500);
    assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
    await res.body?.cancel();
  } finally {
    probe.broken!.value = false;
  }
  // The failure was not cached: with the database back, the same check is allowed.
  const again = await flussonic(t, { name: "gate-1", token });
  assert.equal(again.status, 200);
  await again.body?.cancel();
});

Deno.test("garbage tokens and streams are denied with 403/401 on every backend, never a 5xx (fuzz)", async () => {
  await using t = await testApp();
  const { token } = await viewer(t, ["gate-1"]);
  const rnd = (n: number, alphabet: string) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % alphabet.length]).join("");
  const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const [h, p, s] = token.split(".");
  const garbage = [
    "null",
    "undefined",
    ".",
    "..",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    `${btoa('{"alg":"none","typ":"JWT"}')}.${p}.`,
    `${h}.${p}`,
    `${h}.${p}.${s}.extra`,
    `${h}.${btoa('{"sub":1,"sid":[],"cams":"x","exp":"soon"}').replaceAll("=", "")}.${s}`,
    "%00%ff",
    "\u0000\uffff💥",
    "x".repeat(9000),
    `${token}x`,
    token.toUpperCase(),
  ];
  for (let i = 0; i < 60; i++) {
    garbage.push(rnd(1 + (i * 7) % 300, b64));
    garbage.push(`${rnd(36, b64)}.${rnd(80, b64)}.${rnd(43, b64)}`);
    // One character of the real token changed.
    const at = i % token.length;
    const c = token[at] === "A" ? "B" : "A";
    if (token[at] !== ".") garbage.push(token.slice(0, at) + c + token.slice(at + 1));
  }
  for (const g of garbage) {
    const f = await flussonic(t, { name: "gate-1", token: g });
    assert.equal(f.status, 403, `flussonic ${JSON.stringify(g.slice(0, 60))}`);
    await f.body?.cancel();
    const n = await nginx(t, `/gate-1/index.m3u8?token=${encodeURIComponent(g)}`);
    assert.equal(n.status, 403, `nginx ${JSON.stringify(g.slice(0, 60))}`);
    await n.body?.cancel();
    const m = await mediamtx(t, mediaMtxBody({ path: "gate-1", token: g }));
    assert.equal(m.status, 401, `mediamtx ${JSON.stringify(g.slice(0, 60))}`);
    await m.body?.cancel();
  }
  for (const name of ["", "%", "../gate-1", "gate-1/../x", "💥", "x".repeat(5000), "GATE-1"]) {
    const f = await flussonic(t, { name, token });
    assert.equal(f.status, 403, `stream ${name.slice(0, 20)}`);
    await f.body?.cancel();
  }
  for (
    const uri of [
      "",
      "no-slash",
      "/",
      "//",
      "/%E0%A4%A/index.m3u8?token=" + token,
      "/gate-1?token=%zz",
      "/?token=",
    ]
  ) {
    const n = await nginx(t, uri);
    assert.equal(n.status, 403, `nginx uri ${uri.slice(0, 30)}`);
    await n.body?.cancel();
  }
  for (
    const body of ["", "not json", "[]", "null", "42", '{"path":7,"token":[],"action":{}}', "{".repeat(1000)]
  ) {
    const m = await mediamtx(t, body);
    assert.equal(m.status, 401, `mediamtx body ${body.slice(0, 20)}`);
    await m.body?.cancel();
  }
  // The real token still works after all that.
  assert.equal((await flussonic(t, { name: "gate-1", token })).status, 200);
});

Deno.test("GET /api/v1/media/auth/nginx reads the token and the stream from X-Original-URI", async () => {
  await using t = await testApp();
  const { token, login } = await viewer(t, ["gate-1"]);
  for (const uri of [`/gate-1/index.m3u8?token=${token}`, `/gate-1/tracks-v1/mono.m3u8?a=1&token=${token}`]) {
    const res = await nginx(t, uri);
    assert.equal(res.status, 200, uri);
    assert.equal(await res.text(), "");
    assert.equal(res.headers.get("x-userid"), login.user.id);
  }
  await assertDenied(await nginx(t, `/other/index.m3u8?token=${token}`), 403, "wrong stream");
  await assertDenied(await nginx(t, "/gate-1/index.m3u8"), 403, "no token");
  await assertDenied(await nginx(t), 403, "no header");
});

Deno.test("POST /api/v1/media/auth/mediamtx allows read and playback with the token in `token`, `query` or `password`", async () => {
  await using t = await testApp();
  const { token } = await viewer(t, ["gate-1"]);
  const allowed = [
    mediaMtxBody({ path: "gate-1", token, action: "read", protocol: "hls" }),
    mediaMtxBody({ path: "gate-1", token, action: "playback", protocol: "hls" }),
    mediaMtxBody({ path: "gate-1", action: "read", protocol: "rtsp", query: `token=${token}` }),
    mediaMtxBody({ path: "gate-1", action: "read", protocol: "webrtc", user: "viewer", password: token }),
  ];
  for (const body of allowed) {
    const res = await mediamtx(t, body);
    assert.equal(res.status, 200, JSON.stringify(body).slice(0, 80));
    assert.equal(await res.text(), "");
  }
  const denied = [
    mediaMtxBody({ path: "gate-1", token, action: "publish", protocol: "rtmp" }),
    mediaMtxBody({ path: "gate-1", token, action: "api" }),
    mediaMtxBody({ path: "gate-1", token, action: "metrics" }),
    mediaMtxBody({ path: "gate-1", token, action: "pprof" }),
    mediaMtxBody({ path: "other", token }),
    mediaMtxBody({ path: "gate-1" }),
    mediaMtxBody({ path: "gate-1", token: "junk" }),
  ];
  for (const body of denied) {
    await assertDenied(await mediamtx(t, body), 401, JSON.stringify(body).slice(0, 80));
  }
});

Deno.test("media-auth requests never write the camera token to the log", async () => {
  await using t = await testApp({ config: { LOG_LEVEL: "debug" } });
  const { token } = await viewer(t, ["gate-1"]);
  (await flussonic(t, { name: "gate-1", token })).body?.cancel();
  (await flussonic(t, { name: "nope", token })).body?.cancel();
  (await flussonic(t, { name: "gate-1", token }, "/api/accessfl")).body?.cancel();
  (await nginx(t, `/gate-1/index.m3u8?token=${token}`)).body?.cancel();
  (await mediamtx(t, mediaMtxBody({ path: "nope", token }))).body?.cancel();
  assert.ok(t.log.lines.some((l) => l.includes("/api/v1/media/auth")), "requests are logged");
  assert.ok(t.log.lines.some((l) => l.includes("media auth denied")), "denies are logged at debug");
  assert.ok(t.log.lines.every((l) => !l.includes(token)), "a log line holds the token");
  assert.ok(t.log.lines.every((l) => !l.includes(token.split(".")[2])), "a log line holds the signature");
});
