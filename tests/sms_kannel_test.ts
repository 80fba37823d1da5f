/**
 * The `kannel` SMS provider through a real Kannel (bearerbox + smsbox, and Kannel's fakesmsc as the SMSC),
 * as the SmartYard backend (seed 001) sent its login codes: a Cyrillic text must reach the SMSC intact,
 * coded as UCS-2, and the code in it must log in. Skipped only when the Kannel programs are not installed
 * (`apt-get install kannel kannel-extras`; .ci/run installs both).
 */
import assert from "node:assert/strict";
import { smsFromConfig } from "../src/otp/sms.ts";
import { findKannel, Kannel, parseSmscLine } from "./kannel_fixtures.ts";
import { testApp, testConfig } from "./helpers.ts";

const kannel = findKannel();
const skipped = kannel.binaries
  ? ""
  : ` (skipped: ${kannel.missing.join(", ")} not installed; apt-get install kannel kannel-extras)`;
if (skipped) console.warn(`sms_kannel_test.ts${skipped}`);

const OTP_MESSAGE = "Ваш код подтверждения: {code}. Никому его не сообщайте!";

Deno.test({
  name: `a Cyrillic OTP_MESSAGE reaches Kannel's SMSC intact as UCS-2 and its code logs in${skipped}`,
  ignore: !kannel.binaries,
  async fn() {
    await using k = await Kannel.start(kannel.binaries!);
    const sms = {
      SMS_PROVIDER: "kannel",
      KANNEL_URL: k.sendsmsUrl,
      KANNEL_USER: k.user,
      KANNEL_PASSWORD: k.password,
      KANNEL_SENDER: "SmartYard",
    };
    await using t = await testApp({
      config: { DEFAULT_REGION: "RU", OTP_MESSAGE },
      deps: () => ({ sms: smsFromConfig(testConfig(sms)) }),
    });

    const req = await t.json("POST", "/api/otprequest", {
      client_secret: "legacy-secret",
      phone: "89161234567",
    });
    assert.equal(req.status, 200, await req.clone().text());
    await req.body?.cancel();

    const msg = await k.nextMessage();
    assert.equal(msg.type, "ucs-2", "non-GSM text must go out as UCS-2 (coding=2)");
    assert.equal(msg.to, "+79161234567");
    assert.equal(msg.from, "SmartYard");
    const code = msg.text.match(/\d+/)?.[0];
    assert.ok(code, `no code in ${JSON.stringify(msg.text)}`);
    assert.equal(msg.text, OTP_MESSAGE.replace("{code}", code));

    // The old apps may send the whole SMS text back as sms_message.
    const verify = await t.json("POST", "/api/otpverify", {
      client_secret: "legacy-secret",
      phone: "+79161234567",
      sms_message: msg.text,
    });
    assert.equal(verify.status, 200);
    const { token, user } = await verify.json();
    assert.equal(user.phone, "+79161234567");
    const me = await t.app.request("/api/v1/me", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    await me.body?.cancel();
  },
});

Deno.test("fakesmsc lines decode: UCS-2 as UTF-16BE bytes with + for space, text as printed", () => {
  assert.deepEqual(
    parseSmscLine(
      "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 1: <12345 +79161234567 ucs-2 " +
        "%04%12%040%04H%00+%04%3A%04%3E%044%00+%001%002%003%004>",
    ),
    { from: "12345", to: "+79161234567", type: "ucs-2", text: "Ваш код 1234" },
  );
  assert.deepEqual(parseSmscLine("DEBUG: Got message 2: <12345 +3620 text hello world>"), {
    from: "12345",
    to: "+3620",
    type: "text",
    text: "hello world",
  });
  assert.equal(parseSmscLine("DEBUG: Connecting to <127.0.0.1>"), null);
});
