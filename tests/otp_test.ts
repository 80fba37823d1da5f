import assert from "node:assert/strict";
import { otpCodes } from "../db/schema.ts";
import { problem, testApp } from "./helpers.ts";

const PHONE = "+36201234567";

Deno.test("POST /api/v1/otp/request sends a 6-digit code by SMS and answers 202 with expires_in and resend_in", async () => {
  await using t = await testApp();
  const res = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  assert.equal(res.status, 202);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await res.json(), { expires_in: 300, resend_in: 60 });
  assert.equal(t.sms.sent.length, 1);
  assert.equal(t.sms.sent[0].to, PHONE);
  assert.match(t.sms.lastCode(), /^\d{6}$/);
});

Deno.test("POST /api/v1/otp/request reads national numbers in DEFAULT_REGION and stores E.164", async () => {
  await using t = await testApp({ config: { DEFAULT_REGION: "HU" } });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "06 20 123 4567" });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  assert.equal(t.sms.sent[0].to, PHONE);
  const rows = await t.db.db.select().from(otpCodes);
  assert.equal(rows[0].phone, PHONE);
});

Deno.test("POST /api/v1/otp/request rejects an invalid number with 422 naming the field, and sends nothing", async () => {
  await using t = await testApp();
  for (const phone of ["12", "+1 555", "not a phone", "+36 20 123"]) {
    const res = await t.json("POST", "/api/v1/otp/request", { phone });
    assert.equal(res.status, 422, phone);
    const body = await problem(res);
    assert.deepEqual((body.errors as { field: string }[]).map((e) => e.field), ["phone"]);
  }
  assert.equal(t.sms.sent.length, 0);
});

Deno.test("the code is stored only as a keyed hash, never in clear, and never logged", async () => {
  await using t = await testApp({ config: { LOG_LEVEL: "debug" } });
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const code = t.sms.lastCode();
  const [row] = await t.db.db.select().from(otpCodes);
  assert.match(row.codeHash, /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(row).includes(code));
  (await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code })).body?.cancel();
  assert.ok(t.log.lines.length > 0);
  assert.ok(t.log.lines.every((l) => !l.includes(code)), "a log line holds the code");
});

Deno.test("POST /api/v1/otp/verify with the right code answers tokens and creates the user once", async () => {
  await using t = await testApp();
  const first = await t.login(PHONE);
  assert.equal(first.user.phone, PHONE);
  t.clock.advance(61_000);
  const second = await t.login(PHONE);
  assert.equal(second.user.id, first.user.id);
  const me = await t.app.request("/api/v1/me", {
    headers: { authorization: `Bearer ${second.access_token}` },
  });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { id: first.user.id, phone: PHONE });
});

Deno.test("POST /api/v1/otp/verify answers the documented shape", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const res = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: t.sms.lastCode() });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), [
    "access_token",
    "expires_in",
    "refresh_token",
    "token_type",
    "user",
  ]);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 900);
  assert.deepEqual(Object.keys(body.user).sort(), ["id", "phone"]);
});

Deno.test("a code works only once", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const code = t.sms.lastCode();
  assert.equal((await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code })).status, 200);
  const again = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code });
  assert.equal(again.status, 401);
  await again.body?.cancel();
});

Deno.test("a wrong code answers 401 with attempts_left; after 5 wrong tries the burned code answers 429 with Retry-After", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const code = t.sms.lastCode();
  const wrong = code === "000000" ? "111111" : "000000";
  for (let left = 4; left >= 0; left--) {
    const res = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: wrong });
    assert.equal(res.status, 401);
    assert.equal((await problem(res)).attempts_left, left);
  }
  const right = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code });
  assert.equal(right.status, 429, "the right code must fail once the code is burned (Twilio's 429)");
  assert.equal(right.headers.get("retry-after"), "60", "until a new code may be requested");
  assert.match(String((await problem(right)).detail), /burned/);
});

Deno.test("OTP_MAX_ATTEMPTS is honoured and the right code on the last try still works", async () => {
  await using t = await testApp({ config: { OTP_MAX_ATTEMPTS: "3" } });
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const code = t.sms.lastCode();
  const wrong = code === "000000" ? "111111" : "000000";
  for (let i = 0; i < 2; i++) {
    (await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: wrong })).body?.cancel();
  }
  assert.equal((await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code })).status, 200);
});

Deno.test("a code expires after OTP_TTL_S", async () => {
  await using t = await testApp({ config: { OTP_TTL_S: "120" } });
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  t.clock.advance(120_001);
  const res = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: t.sms.lastCode() });
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("a new code replaces the old one", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const old = t.sms.lastCode();
  t.clock.advance(60_000);
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  const fresh = t.sms.lastCode();
  if (old !== fresh) {
    const res = await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: old });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  }
  assert.equal((await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: fresh })).status, 200);
});

Deno.test("a resend within OTP_RESEND_S answers 429 with Retry-After and sends nothing", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  t.clock.advance(20_000);
  const res = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "40");
  assert.equal((await problem(res)).status, 429);
  assert.equal(t.sms.sent.length, 1);
  t.clock.advance(40_000);
  assert.equal((await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).status, 202);
});

Deno.test("at most OTP_MAX_PER_HOUR codes are sent to one number per hour", async () => {
  await using t = await testApp();
  for (let i = 0; i < 5; i++) {
    assert.equal((await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).status, 202);
    t.clock.advance(61_000);
  }
  const res = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  assert.equal(res.status, 429);
  // The first send was 5 × 61 s ago; it leaves the window after 3600 − 305 s.
  assert.equal(res.headers.get("retry-after"), String(3600 - 305));
  await res.body?.cancel();
  assert.equal(t.sms.sent.length, 5);
  t.clock.advance((3600 - 305) * 1000);
  assert.equal((await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).status, 202);
});

Deno.test("one client IP gets at most OTP_IP_MAX_PER_HOUR requests per hour, across numbers", async () => {
  await using t = await testApp({ config: { OTP_IP_MAX_PER_HOUR: "3" } });
  const phones = ["+36201111111", "+36202222222", "+36203333333", "+36204444444"];
  for (const phone of phones.slice(0, 3)) {
    assert.equal((await t.json("POST", "/api/v1/otp/request", { phone })).status, 202);
  }
  const res = await t.json("POST", "/api/v1/otp/request", { phone: phones[3] });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "3600");
  await res.body?.cancel();
  const other = await t.json("POST", "/api/v1/otp/request", { phone: phones[3] }, {
    "x-forwarded-for": "198.51.100.1",
  });
  assert.equal(other.status, 202, "another IP is not limited");
});

Deno.test("a provider failure answers 502 with Retry-After, leaves no usable code, and counts as a send", async () => {
  await using t = await testApp();
  t.sms.failNext = true;
  const res = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("retry-after"), "60");
  assert.match(String((await problem(res)).detail), /its code will not work/);
  assert.equal((await t.db.db.select().from(otpCodes)).length, 0);
  // A broken gateway is no SMS pump: the failed send counts against the cooldown.
  const again = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  assert.equal(again.status, 429);
  await again.body?.cancel();
});

Deno.test("with a failing gateway, back-to-back requests for one number reach it at most OTP_MAX_PER_HOUR times", async () => {
  await using t = await testApp();
  let tries = 0;
  for (let i = 0; i < 8; i++) {
    t.sms.failNext = true;
    const res = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
    if (res.status === 502) tries++;
    else assert.equal(res.status, 429);
    await res.body?.cancel();
    t.clock.advance(61_000); // past the cooldown each time: only the hourly cap is left
  }
  assert.equal(tries, t.deps.config.OTP_MAX_PER_HOUR);
});

Deno.test("answers do not reveal whether a number belongs to a user", async () => {
  await using t = await testApp();
  await t.login(PHONE);
  t.clock.advance(61_000);
  const known = await t.json("POST", "/api/v1/otp/request", { phone: PHONE });
  const unknown = await t.json("POST", "/api/v1/otp/request", { phone: "+36209999999" });
  assert.equal(known.status, unknown.status);
  assert.deepEqual(await known.json(), await unknown.json());
  const k = await problem(await t.json("POST", "/api/v1/otp/verify", { phone: PHONE, code: "000000" }));
  const u = await problem(
    await t.json("POST", "/api/v1/otp/verify", { phone: "+36209999999", code: "000000" }),
  );
  assert.equal(k.status, u.status);
  assert.equal(typeof k.attempts_left, typeof u.attempts_left);
});

Deno.test("OTP_LENGTH and OTP_MESSAGE shape the text that is sent", async () => {
  await using t = await testApp({ config: { OTP_LENGTH: "8", OTP_MESSAGE: "Kód: {code}. Ne add tovább!" } });
  (await t.json("POST", "/api/v1/otp/request", { phone: PHONE })).body?.cancel();
  assert.match(t.sms.sent[0].text, /^Kód: \d{8}\. Ne add tovább!$/);
});

Deno.test("codes are uniformly random digits from the CSPRNG", async () => {
  const { randomDigits } = await import("../src/crypto.ts");
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 2000; i++) for (const d of randomDigits(6)) counts[Number(d)]++;
  // 12,000 digits: each should be near 1,200; a modulo-biased or constant generator fails this.
  for (const c of counts) assert.ok(c > 1000 && c < 1400, `digit count ${c} out of range`);
});
