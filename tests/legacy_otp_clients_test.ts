/**
 * Old clients' phone login: the legacy code length (LEGACY_OTP_LENGTH, 4 by default as the old backends
 * sent) beside the v1 routes' OTP_LENGTH, and Iranian national numbers (`09…`) with DEFAULT_REGION=IR.
 */
import assert from "node:assert/strict";
import { TooManyRequestsError } from "../src/errors.ts";
import { requestCode, requestLegacyCode } from "../src/otp/service.ts";
import { testApp, testConfig } from "./helpers.ts";

const IP = "203.0.113.7";

Deno.test("legacy codes have LEGACY_OTP_LENGTH digits (4 by default) and log in through POST /api/otpverify", async () => {
  await using t = await testApp();
  assert.equal(t.deps.config.LEGACY_OTP_LENGTH, 4);
  assert.deepEqual(await requestLegacyCode(t.deps, { phone: "+36201234567", ip: IP }), {
    expires_in: 300,
    resend_in: 60,
  });
  assert.match(t.sms.sent[0].text, /^Your gatehouse code is \d{4}$/);
  const res = await t.json("POST", "/api/otpverify", {
    client_secret: "legacy-secret",
    phone: "+36201234567",
    sms_message: t.sms.sent[0].text,
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user.phone, "+36201234567");
});

Deno.test("LEGACY_OTP_LENGTH=6 and =8 give legacy codes of that length; the v1 route keeps OTP_LENGTH", async () => {
  for (const length of [6, 8]) {
    await using t = await testApp({ config: { LEGACY_OTP_LENGTH: String(length), OTP_LENGTH: "5" } });
    await requestLegacyCode(t.deps, { phone: "+36201234567", ip: IP });
    assert.equal(t.sms.lastCode("+36201234567").length, length);
    const v1 = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234568" });
    assert.equal(v1.status, 202);
    await v1.body?.cancel();
    assert.equal(t.sms.lastCode("+36201234568").length, 5);
    const ok = await t.json("POST", "/api/v1/otp/verify", {
      phone: "+36201234567",
      code: t.sms.lastCode("+36201234567"),
    });
    assert.equal(ok.status, 200, "a legacy code works on the v1 verify route too");
    await ok.body?.cancel();
  }
});

Deno.test("requestCode's codeLength applies to that call only, and legacy codes share the v1 limits", async () => {
  await using t = await testApp();
  await requestCode(t.deps, { phone: "+36201234567", ip: IP, codeLength: 4 });
  assert.equal(t.sms.lastCode().length, 4);
  await requestCode(t.deps, { phone: "+36201234568", ip: IP });
  assert.equal(t.sms.lastCode().length, 6);
  await assert.rejects(requestLegacyCode(t.deps, { phone: "+36201234567", ip: IP }), TooManyRequestsError);
});

Deno.test("LEGACY_OTP_LENGTH outside 4..10 is a configuration error", () => {
  for (const bad of ["3", "11", "four"]) {
    assert.throws(() => testConfig({ LEGACY_OTP_LENGTH: bad }), /LEGACY_OTP_LENGTH/, bad);
  }
});

Deno.test("with DEFAULT_REGION=IR a national 09… number logs in through POST /api/v1/otp/request and /verify", async () => {
  await using t = await testApp({ config: { DEFAULT_REGION: "IR" } });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "09121234567" });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  assert.equal(t.sms.sent[0].to, "+989121234567");
  const v = await t.json("POST", "/api/v1/otp/verify", { phone: "0912 123 4567", code: t.sms.lastCode() });
  assert.equal(v.status, 200);
  assert.equal((await v.json()).user.phone, "+989121234567");
});

Deno.test("with DEFAULT_REGION=IR a national 09… number logs in through POST /api/otprequest and /api/otpverify", async () => {
  await using t = await testApp({ config: { DEFAULT_REGION: "IR" } });
  const legacy = { client_secret: "legacy-secret", phone: "09121234567" };
  const res = await t.json("POST", "/api/otprequest", legacy);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(t.sms.sent[0].to, "+989121234567");
  const v = await t.json("POST", "/api/otpverify", { ...legacy, sms_message: t.sms.sent[0].text });
  assert.equal(v.status, 200);
  assert.equal((await v.json()).user.phone, "+989121234567");
});

Deno.test("without DEFAULT_REGION a national 09… number is a 422 that asks for the +98 form", async () => {
  await using t = await testApp({ config: { DEFAULT_REGION: "" } });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "09121234567" });
  assert.equal(res.status, 422);
  await res.body?.cancel();
  assert.equal(t.sms.sent.length, 0);
});
