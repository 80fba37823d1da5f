import assert from "node:assert/strict";
import { problem, testApp } from "./helpers.ts";

Deno.test("POST /api/otprequest and /api/otpverify log in like the v1 routes", async () => {
  await using t = await testApp();
  const req = await t.json("POST", "/api/otprequest", {
    client_secret: "legacy-secret",
    phone: "06201234567",
  });
  assert.equal(req.status, 200);
  assert.deepEqual(await req.json(), { status: "sent", expires_in: 300, resend_in: 60 });
  const res = await t.json("POST", "/api/otpverify", {
    client_secret: "legacy-secret",
    phone: "+36201234567",
    sms_message: t.sms.lastCode(),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.token, body.access_token);
  assert.equal(body.user.phone, "+36201234567");
  const me = await t.app.request("/api/v1/me", { headers: { authorization: `Bearer ${body.token}` } });
  assert.equal(me.status, 200);
});

Deno.test("POST /api/otpverify accepts the whole SMS text as sms_message", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/otprequest", { client_secret: "legacy-secret", phone: "+36201234567" })).body
    ?.cancel();
  const res = await t.json("POST", "/api/otpverify", {
    client_secret: "legacy-secret",
    phone: "+36201234567",
    sms_message: t.sms.sent[0].text,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("legacy routes answer 401 for a wrong client_secret and send nothing", async () => {
  await using t = await testApp();
  const res = await t.json("POST", "/api/otprequest", { client_secret: "nope", phone: "+36201234567" });
  assert.equal(res.status, 401);
  assert.equal((await problem(res)).detail, "Invalid client_secret");
  assert.equal(t.sms.sent.length, 0);
  const v = await t.json("POST", "/api/otpverify", {
    client_secret: "",
    phone: "+36201234567",
    sms_message: "1",
  });
  assert.equal(v.status, 401);
  await v.body?.cancel();
});

Deno.test("legacy routes are closed when CLIENT_SECRET is not configured", async () => {
  await using t = await testApp({ config: { CLIENT_SECRET: "" } });
  const res = await t.json("POST", "/api/otprequest", { client_secret: "", phone: "+36201234567" });
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("legacy routes share the v1 limits (resend cooldown)", async () => {
  await using t = await testApp();
  (await t.json("POST", "/api/otprequest", { client_secret: "legacy-secret", phone: "+36201234567" })).body
    ?.cancel();
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" });
  assert.equal(res.status, 429);
  await res.body?.cancel();
});
