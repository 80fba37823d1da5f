import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { refreshTokens } from "../db/schema.ts";
import { apiKeyIdFor, apiKeyIds, matchApiKey } from "../src/auth/api_keys.ts";
import { authenticate } from "../src/auth/middleware.ts";
import { ANY_SESSION, issueTicket, redeemTicket } from "../src/automation/access.ts";
import { sha256Hex } from "../src/crypto.ts";
import { problem, testApp } from "./helpers.ts";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("GET /api/v1/me answers the caller's id and phone", async () => {
  await using t = await testApp();
  const s = await t.login("+36201234567");
  const res = await t.app.request("/api/v1/me", { headers: bearer(s.access_token) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await res.json(), { id: s.user.id, phone: "+36201234567" });
});

Deno.test("GET /api/v1/me without a token, or with a forged one, answers 401 problem", async () => {
  await using t = await testApp();
  const s = await t.login();
  const [h, p] = s.access_token.split(".");
  const forged = await new SignJWT({ sub: s.user.id, sid: "x" }).setProtectedHeader({ alg: "HS256" })
    .setIssuer("gatehouse").setAudience("gatehouse-api").setExpirationTime("1h")
    .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
  for (
    const headers of [
      {},
      bearer("garbage"),
      bearer(`${h}.${p}.`),
      bearer(forged),
      bearer(`${h.replace("J", "K")}.${p}`),
    ]
  ) {
    const res = await t.app.request("/api/v1/me", { headers });
    assert.equal(res.status, 401);
    assert.equal((await problem(res)).status, 401);
  }
});

Deno.test("an access token with alg none or another audience is refused", async () => {
  await using t = await testApp();
  const s = await t.login();
  const payload = JSON.parse(atob(s.access_token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  const b64 = (o: unknown) =>
    btoa(JSON.stringify(o)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`;
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(none) })).status, 401);
  const otherAud = await t.deps.jwt.sign({ sub: s.user.id, sid: payload.sid }, 60, "camera");
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(otherAud) })).status, 401);
});

Deno.test("access tokens expire after ACCESS_TOKEN_TTL_S", async () => {
  await using t = await testApp({ config: { ACCESS_TOKEN_TTL_S: "60" } });
  const s = await t.login();
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(s.access_token) })).status, 200);
  t.clock.advance(61_000);
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(s.access_token) })).status, 401);
});

Deno.test("POST /api/v1/auth/refresh rotates: a new pair, and the old refresh token stops working", async () => {
  await using t = await testApp();
  const s = await t.login();
  const res = await t.json("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token });
  assert.equal(res.status, 200);
  const next = await res.json();
  assert.notEqual(next.refresh_token, s.refresh_token);
  assert.equal(next.user.id, s.user.id);
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(next.access_token) })).status, 200);
  const stored = await t.db.db.select().from(refreshTokens);
  assert.ok(stored.every((r) => r.tokenHash !== s.refresh_token && r.tokenHash !== next.refresh_token));
});

Deno.test("reusing a rotated refresh token revokes the whole family, newest token included", async () => {
  await using t = await testApp();
  const s = await t.login();
  const r1 = await (await t.json("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token })).json();
  const reuse = await t.json("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token });
  assert.equal(reuse.status, 401);
  await reuse.body?.cancel();
  const newest = await t.json("POST", "/api/v1/auth/refresh", { refresh_token: r1.refresh_token });
  assert.equal(newest.status, 401, "the newest refresh token must stop working too");
  await newest.body?.cancel();
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(r1.access_token) })).status, 401);
});

Deno.test("a family revoked by reuse does not touch the user's other logins", async () => {
  await using t = await testApp();
  const a = await t.login("+36201234567");
  t.clock.advance(61_000);
  const b = await t.login("+36201234567");
  await (await t.json("POST", "/api/v1/auth/refresh", { refresh_token: a.refresh_token })).body?.cancel();
  await (await t.json("POST", "/api/v1/auth/refresh", { refresh_token: a.refresh_token })).body?.cancel();
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(b.access_token) })).status, 200);
  assert.equal(
    (await t.json("POST", "/api/v1/auth/refresh", { refresh_token: b.refresh_token })).status,
    200,
  );
});

Deno.test("refresh tokens expire after REFRESH_TOKEN_TTL_S", async () => {
  await using t = await testApp({ config: { REFRESH_TOKEN_TTL_S: "3600" } });
  const s = await t.login();
  t.clock.advance(3600_001);
  const res = await t.json("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token });
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("POST /api/v1/auth/logout revokes the family: the access and refresh tokens stop working", async () => {
  await using t = await testApp();
  const s = await t.login();
  const res = await t.app.request("/api/v1/auth/logout", { method: "POST", headers: bearer(s.access_token) });
  assert.equal(res.status, 204);
  assert.equal((await t.app.request("/api/v1/me", { headers: bearer(s.access_token) })).status, 401);
  const r = await t.json("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token });
  assert.equal(r.status, 401);
  await r.body?.cancel();
});

Deno.test("an admin API key works as Bearer or x-api-key, and is not a user", async () => {
  await using t = await testApp();
  for (const headers of [{ "x-api-key": "admin-key" }, bearer("admin-key")]) {
    const res = await t.app.request("/api/v1/me", { headers });
    assert.equal(res.status, 403, "admins have no /me");
    await res.body?.cancel();
  }
  const wrong = await t.app.request("/api/v1/me", { headers: { "x-api-key": "admin-kez" } });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
});

Deno.test("an API key is known by a SHA-256 prefix wherever it stands in API_KEYS; its socket ticket names it", async () => {
  const [a, b] = ["admin-key", "other-key"];
  assert.deepEqual(apiKeyIds([a, b]), [...apiKeyIds([b, a])].reverse(), "reordering keeps each key's id");
  assert.equal(matchApiKey([a, b], b), sha256Hex(b).slice(0, 16));
  assert.equal(matchApiKey([a, b], "admin-kez"), null);
  assert.equal(matchApiKey([a, b], undefined), null);
  await using t = await testApp({ config: { API_KEYS: `${a},${b}` } });
  const principal = await authenticate(t.deps, { authorization: `Bearer ${b}` });
  assert.deepEqual(principal, { kind: "admin", apiKeyId: apiKeyIdFor(b) });
  const ticket = await issueTicket(t.deps, principal!, ANY_SESSION);
  assert.ok(!atob(ticket.split(".")[1]).includes(b), "the key itself is not in the ticket");
  assert.deepEqual(await redeemTicket(t.deps, ticket, ANY_SESSION), principal);
  const removed = { ...t.deps, config: { ...t.deps.config, API_KEYS: [a] } };
  assert.equal(await redeemTicket(removed, ticket, ANY_SESSION), null, "a ticket dies with its key");
});
