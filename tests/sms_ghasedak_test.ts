/** The `ghasedak` SMS provider (the old Traccar middleware's gateway) against a local fake of its web service. */
import assert from "node:assert/strict";
import { otpCodes } from "../db/schema.ts";
import { loadConfig } from "../src/config.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { FakeGhasedak } from "./fakes/ghasedak.ts";
import { problem, type TestApp, testApp, testConfig } from "./helpers.ts";

/** An app whose SMS go through the `ghasedak` provider to `gw`, reading national numbers as Iranian. */
function appOn(gw: FakeGhasedak, config: Record<string, string> = {}): Promise<TestApp> {
  const all = {
    DEFAULT_REGION: "IR",
    SMS_PROVIDER: "ghasedak",
    GHASEDAK_API_KEY: "test-api-key",
    GHASEDAK_BASE_URL: gw.url,
    GHASEDAK_LINE_NUMBER: "30005088",
    ...config,
  };
  return testApp({ config: all, deps: () => ({ sms: smsFromConfig(testConfig(all)) }) });
}

/** Asks for a code for `phone` and returns the one message Ghasedak received for it. */
async function sentTo(t: TestApp, gw: FakeGhasedak, phone: string) {
  const res = await t.json("POST", "/api/v1/otp/request", { phone });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  assert.equal(gw.sent.length, 1);
  return gw.sent[0];
}

/** Asks for a code that cannot be sent: asserts the 502 problem and that no code is stored; returns its detail. */
async function failedRequest(t: TestApp): Promise<unknown> {
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "09121234567" });
  assert.equal(res.status, 502);
  const { detail } = await problem(res);
  assert.equal((await t.db.db.select().from(otpCodes)).length, 0, "no usable code may remain");
  assert.match(String(detail), /If a text still arrives, its code will not work/);
  return String(detail).replace(/\. If a text still arrives.*$/, "");
}

Deno.test("ghasedak sends the code to an Iranian 09… number in national form and the code logs in", async () => {
  await using gw = new FakeGhasedak();
  await using t = await appOn(gw);
  const sms = await sentTo(t, gw, "09121234567");
  assert.equal(sms.receptor, "09121234567");
  assert.equal(sms.lineNumber, "30005088");
  assert.match(sms.message, /^Your gatehouse code is \d{6}$/);
  const code = sms.message.match(/\d{6}/)![0];
  const v = await t.json("POST", "/api/v1/otp/verify", { phone: "+989121234567", code });
  assert.equal(v.status, 200);
  assert.equal((await v.json()).user.phone, "+989121234567");
});

Deno.test("ghasedak receives a Persian OTP_MESSAGE exactly as written", async () => {
  await using gw = new FakeGhasedak();
  await using t = await appOn(gw, { OTP_MESSAGE: "کد ورود شما: {code}\nقاصدک" });
  const { message } = await sentTo(t, gw, "+989121234567");
  const code = message.match(/\d{6}/)![0];
  assert.equal(message, `کد ورود شما: ${code}\nقاصدک`);
});

Deno.test("ghasedak gets numbers outside Iran in E.164, and no lineNumber when none is configured", async () => {
  await using gw = new FakeGhasedak();
  await using t = await appOn(gw, { GHASEDAK_LINE_NUMBER: "" });
  const sms = await sentTo(t, gw, "+36201234567");
  assert.equal(sms.receptor, "+36201234567");
  assert.equal(sms.lineNumber, null);
});

Deno.test("a wrong Ghasedak API key answers 502 problem and leaves no usable code", async () => {
  await using gw = new FakeGhasedak({ apiKey: "the-real-key" });
  await using t = await appOn(gw);
  const detail = "The code could not be sent: SMS provider ghasedak answered HTTP 401 (StatusCode 401)";
  assert.equal(await failedRequest(t), detail);
  assert.equal(gw.sent.length, 0);
  // A failed send counts against the cooldown (issue 15 item 7): the retry is a 429 and never reaches Ghasedak.
  const again = await t.json("POST", "/api/v1/otp/request", { phone: "09121234567" });
  assert.equal(again.status, 429);
  await again.body?.cancel();
  assert.equal(gw.requests, 1);
});

Deno.test("a Ghasedak server error answers 502", async () => {
  await using gw = new FakeGhasedak();
  gw.mode = "error";
  await using t = await appOn(gw);
  assert.equal(await failedRequest(t), "The code could not be sent: SMS provider ghasedak answered HTTP 500");
});

Deno.test("a Ghasedak refusal inside an HTTP 200 (IsSuccess false) answers 502", async () => {
  await using gw = new FakeGhasedak();
  gw.mode = "refuse";
  await using t = await appOn(gw);
  assert.equal(
    await failedRequest(t),
    "The code could not be sent: SMS provider ghasedak refused the message (StatusCode 400)",
  );
});

Deno.test("a Ghasedak that does not answer within SMS_TIMEOUT_MS answers 502, and a closed port too", async () => {
  await using gw = new FakeGhasedak();
  gw.mode = "hang";
  await using t = await appOn(gw, { SMS_TIMEOUT_MS: "200" });
  assert.equal(await failedRequest(t), "The code could not be sent: SMS provider ghasedak timed out");
  const closed = smsFromConfig(testConfig({
    SMS_PROVIDER: "ghasedak",
    GHASEDAK_API_KEY: "k",
    GHASEDAK_BASE_URL: "http://127.0.0.1:9",
  }));
  await assert.rejects(closed.send("+989121234567", "x"), /SMS provider ghasedak could not be reached/);
});

Deno.test("the fake Ghasedak answers a request without receptor with ASP.NET's 400 validation problem", async () => {
  await using gw = new FakeGhasedak();
  const res = await fetch(`${gw.url}/rest/api/v1/WebService/SendSingleSMS`, {
    method: "POST",
    headers: { ApiKey: "test-api-key", "content-type": "application/json" },
    body: JSON.stringify({ Message: "hi" }),
  });
  assert.equal(res.status, 400);
  assert.deepEqual((await res.json()).errors, { Receptor: ["The Receptor field is required."] });
});

Deno.test("SMS_PROVIDER=ghasedak requires GHASEDAK_API_KEY and defaults to Ghasedak's gateway", () => {
  assert.throws(
    () => loadConfig({ SMS_PROVIDER: "ghasedak" }),
    /GHASEDAK_API_KEY: GHASEDAK_API_KEY is required/,
  );
  const c = loadConfig({ SMS_PROVIDER: "ghasedak", GHASEDAK_API_KEY: "k" });
  assert.equal(c.GHASEDAK_BASE_URL, "https://gateway.ghasedak.me");
  assert.equal(smsFromConfig(c).name, "ghasedak");
});
