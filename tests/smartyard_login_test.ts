import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { authSessions, otpCodes, smartyardAppTokens } from "../db/schema.ts";
import { envelopeError, expectJson, PHONE, PHONE_E164, smartyardWorld } from "./smartyard_helpers.ts";

Deno.test("POST /api/user/phonePattern answers the configured pattern without a token", async () => {
  await using w = await smartyardWorld();
  const res = await w.call("user/phonePattern");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await res.json(), {
    code: 200,
    name: "OK",
    message: "Хорошо",
    data: "+7 (###) ###-##-##",
  });
});

Deno.test("POST /api/user/requestCode sends a 4-digit code to the E.164 number and answers {method: sms}", async () => {
  await using w = await smartyardWorld();
  const res = await w.call("user/requestCode", { userPhone: PHONE });
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).data, { method: "sms" });
  assert.equal(w.t.sms.sent.length, 1);
  assert.equal(w.t.sms.sent[0].to, PHONE_E164);
  assert.match(w.t.sms.lastCode(PHONE_E164), /^\d{4}$/);
});

Deno.test("POST /api/user/requestCode reads the LanTa app's 8… numbers as +7…", async () => {
  await using w = await smartyardWorld();
  const res = await w.call("user/requestCode", { userPhone: "89161234567" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(w.t.sms.sent[0].to, PHONE_E164);
});

Deno.test("the v1 OTP routes keep OTP_LENGTH (6) while the apps get SMARTYARD_OTP_LENGTH (4)", async () => {
  await using w = await smartyardWorld();
  const v1 = await w.t.json("POST", "/api/v1/otp/request", { phone: "+79161234568" });
  assert.equal(v1.status, 202);
  await v1.body?.cancel();
  assert.match(w.t.sms.lastCode("+79161234568"), /^\d{6}$/);
});

Deno.test("POST /api/user/confirmCode answers an opaque accessToken stored only as a hash, bound to a login session", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const rows = await w.t.deps.db.select().from(smartyardAppTokens);
  assert.equal(rows.length, 1);
  assert.notEqual(rows[0].tokenHash, token);
  assert.ok(!JSON.stringify(rows).includes(token));
  const [session] = await w.t.deps.db.select().from(authSessions).where(
    eq(authSessions.id, rows[0].sessionId),
  );
  assert.equal(session.revokedAt, null);
  // the token works, and nothing secret reached the logs
  const ping = await w.call("user/ping", undefined, token);
  assert.equal(ping.status, 204);
  assert.ok(!w.t.log.lines.some((l) => l.includes(token)));
});

Deno.test("POST /api/user/confirmCode leaves names out until the user sent one, then answers them", async () => {
  await using w = await smartyardWorld();
  const first = await w.login();
  const sent = await w.call("user/sendName", { name: "Ирина", patronymic: "Петровна" }, first);
  assert.equal(sent.status, 204);
  w.t.clock.advance(61_000);
  await (await w.call("user/requestCode", { userPhone: PHONE })).body?.cancel();
  const res = await w.call("user/confirmCode", { userPhone: PHONE, smsCode: w.t.sms.lastCode(PHONE_E164) });
  const body = await expectJson(res, 200);
  const data = body.data as Record<string, unknown>;
  assert.deepEqual(data.names, { name: "Ирина", patronymic: "Петровна" });
  assert.notEqual(data.accessToken, first);
});

Deno.test("POST /api/user/confirmCode: a wrong code is 403, no pending code is 404, both in the envelope", async () => {
  await using w = await smartyardWorld();
  const none = await w.call("user/confirmCode", { userPhone: PHONE, smsCode: "1234" });
  const e404 = await envelopeError(none, 404);
  assert.match(e404.message, /запросите новый/);
  await (await w.call("user/requestCode", { userPhone: PHONE })).body?.cancel();
  const code = w.t.sms.lastCode(PHONE_E164);
  const wrong = String((Number(code) + 1) % 10000).padStart(4, "0");
  const bad = await w.call("user/confirmCode", { userPhone: PHONE, smsCode: wrong });
  const e403 = await envelopeError(bad, 403);
  assert.equal(e403.message, "Пин-код введен неверно");
  assert.equal(e403.data.attempts_left, undefined);
  // the right code still works after one wrong try
  const ok = await w.call("user/confirmCode", { userPhone: PHONE, smsCode: code });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("POST /api/user/confirmCode burns the code after OTP_MAX_ATTEMPTS wrong tries (same limits as v1)", async () => {
  await using w = await smartyardWorld();
  await (await w.call("user/requestCode", { userPhone: PHONE })).body?.cancel();
  const code = w.t.sms.lastCode(PHONE_E164);
  const wrong = String((Number(code) + 1) % 10000).padStart(4, "0");
  for (let i = 0; i < w.t.deps.config.OTP_MAX_ATTEMPTS; i++) {
    await (await w.call("user/confirmCode", { userPhone: PHONE, smsCode: wrong })).body?.cancel();
  }
  const res = await w.call("user/confirmCode", { userPhone: PHONE, smsCode: code });
  await envelopeError(res, 404);
});

Deno.test("POST /api/user/requestCode shares the v1 resend cooldown: 429 with Retry-After in the envelope", async () => {
  await using w = await smartyardWorld();
  await (await w.call("user/requestCode", { userPhone: PHONE })).body?.cancel();
  const again = await w.call("user/requestCode", { userPhone: PHONE });
  assert.equal(again.headers.get("retry-after"), "60");
  const e = await envelopeError(again, 429);
  assert.equal(e.data.retry_after, 60);
  assert.equal(w.t.sms.sent.length, 1);
});

Deno.test("POST /api/user/requestCode answers 502 in the envelope when the SMS provider fails, and no code stays", async () => {
  await using w = await smartyardWorld();
  w.t.sms.failNext = true;
  const res = await w.call("user/requestCode", { userPhone: PHONE });
  await envelopeError(res, 502);
  assert.deepEqual(await w.t.deps.db.select().from(otpCodes), []);
});

Deno.test("an unknown token is 401 in the envelope (the apps log out on it); a missing one too", async () => {
  await using w = await smartyardWorld();
  for (const token of ["not-a-token", "x".repeat(600), null]) {
    const res = await w.call("address/getAddressList", undefined, token);
    const e = await envelopeError(res, 401);
    assert.equal(e.message, "Не авторизован");
  }
  const lower = await w.call("user/ping", undefined, null, { authorization: "Basic Zm9vOmJhcg==" });
  await envelopeError(lower, 401);
});

Deno.test("revoking the login session (admin) makes the app's token answer 401", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  const [row] = await w.t.deps.db.select().from(smartyardAppTokens);
  const list = await expectJson(await w.admin("GET", `users/${row.userId}/app-sessions`), 200);
  assert.deepEqual((list.sessions as { session_id: string }[]).map((s) => s.session_id), [row.sessionId]);
  assert.equal((await w.admin("DELETE", `app-sessions/${row.sessionId}`)).status, 204);
  await envelopeError(await w.call("user/ping", undefined, token), 401);
  const again = await expectJson(await w.admin("GET", `users/${row.userId}/app-sessions`), 200);
  assert.notEqual((again.sessions as { revoked_at: string | null }[])[0].revoked_at, null);
});

Deno.test("a token lives until revocation: no expiry after days of fake time", async () => {
  await using w = await smartyardWorld();
  const token = await w.login();
  w.t.clock.advance(90 * 24 * 3600_000);
  assert.equal((await w.call("user/ping", undefined, token)).status, 204);
});
