import assert from "node:assert/strict";
import { otpCodes } from "../db/schema.ts";
import { smsFromConfig } from "../src/otp/sms.ts";
import { problem, testApp, testConfig } from "./helpers.ts";

interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

/** A local HTTP server that records requests and answers with `reply`. */
function recorder(reply: (r: Received) => Response | Promise<Response>) {
  const received: Received[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const r = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: await req.text(),
    };
    received.push(r);
    return reply(r);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("kannel provider calls sendsms with user, password, sender, E.164 number and the text", async () => {
  await using gw = recorder(() => new Response("0: Accepted for delivery", { status: 202 }));
  await using t = await testApp({
    deps: (base) => ({
      sms: smsFromConfig(testConfig({
        SMS_PROVIDER: "kannel",
        KANNEL_URL: `${gw.url}/cgi-bin/sendsms`,
        KANNEL_USER: "gh",
        KANNEL_PASSWORD: "pw",
        KANNEL_SENDER: "Gatehouse",
      })),
      config: base.config,
    }),
  });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  assert.equal(gw.received.length, 1);
  const r = gw.received[0];
  assert.equal(r.method, "GET");
  assert.equal(r.path, "/cgi-bin/sendsms");
  assert.equal(r.query.get("username"), "gh");
  assert.equal(r.query.get("password"), "pw");
  assert.equal(r.query.get("from"), "Gatehouse");
  assert.equal(r.query.get("to"), "+36201234567");
  assert.match(r.query.get("text")!, /^Your gatehouse code is \d{6}$/);
});

Deno.test("http provider POSTs {to, text} as JSON", async () => {
  await using gw = recorder(() => new Response(null, { status: 204 }));
  await using t = await testApp({
    deps: () => ({
      sms: smsFromConfig(testConfig({ SMS_PROVIDER: "http", SMS_WEBHOOK_URL: `${gw.url}/sms` })),
    }),
  });
  assert.equal((await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" })).status, 202);
  const r = gw.received[0];
  assert.equal(r.method, "POST");
  assert.equal(r.headers.get("content-type"), "application/json");
  const body = JSON.parse(r.body);
  assert.deepEqual(Object.keys(body).sort(), ["text", "to"]);
  assert.equal(body.to, "+36201234567");
  // The code that arrived works.
  const code = body.text.match(/\d{6}/)[0];
  assert.equal((await t.json("POST", "/api/v1/otp/verify", { phone: "+36201234567", code })).status, 200);
});

Deno.test("twilio provider POSTs the Messages API form with Basic auth", async () => {
  await using gw = recorder(() => Response.json({ sid: "SM123", status: "queued" }, { status: 201 }));
  await using t = await testApp({
    deps: () => ({
      sms: smsFromConfig(testConfig({
        SMS_PROVIDER: "twilio",
        TWILIO_BASE_URL: gw.url,
        TWILIO_ACCOUNT_SID: "AC0123",
        TWILIO_AUTH_TOKEN: "secret-token",
        TWILIO_FROM: "+15005550006",
      })),
    }),
  });
  assert.equal((await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" })).status, 202);
  const r = gw.received[0];
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/2010-04-01/Accounts/AC0123/Messages.json");
  assert.equal(r.headers.get("authorization"), `Basic ${btoa("AC0123:secret-token")}`);
  assert.equal(r.headers.get("content-type"), "application/x-www-form-urlencoded");
  const form = new URLSearchParams(r.body);
  assert.equal(form.get("To"), "+36201234567");
  assert.equal(form.get("From"), "+15005550006");
  assert.match(form.get("Body")!, /\d{6}/);
});

Deno.test("a gateway error answers 502 problem and leaves no usable code", async () => {
  await using gw = recorder(() => new Response("Authorization failed for sendsms", { status: 403 }));
  await using t = await testApp({
    deps: () => ({
      sms: smsFromConfig(testConfig({ SMS_PROVIDER: "kannel", KANNEL_URL: `${gw.url}/cgi-bin/sendsms` })),
    }),
  });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" });
  assert.equal(res.status, 502);
  assert.match(String((await problem(res)).detail), /HTTP 403/);
  assert.equal((await t.db.db.select().from(otpCodes)).length, 0);
  const code = gw.received[0].query.get("text")!.match(/\d{6}/)![0];
  const v = await t.json("POST", "/api/v1/otp/verify", { phone: "+36201234567", code });
  assert.equal(v.status, 401, "the code in the failed message must not work");
  await v.body?.cancel();
  assert.ok(t.log.lines.every((l) => !l.includes(code)));
});

Deno.test("an unreachable or slow gateway answers 502", async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => release = r);
  await using gw = recorder(async () => {
    await hold;
    return new Response("late");
  });
  await using t = await testApp({
    deps: () => ({
      sms: smsFromConfig(
        testConfig({ SMS_PROVIDER: "http", SMS_WEBHOOK_URL: `${gw.url}/sms`, SMS_TIMEOUT_MS: "200" }),
      ),
    }),
  });
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567" });
  assert.equal(res.status, 502);
  assert.match(String((await problem(res)).detail), /timed out/);
  release();
  const closed = smsFromConfig(
    testConfig({ SMS_PROVIDER: "http", SMS_WEBHOOK_URL: "http://127.0.0.1:9/sms" }),
  );
  await assert.rejects(closed.send("+36201234567", "x"), /could not be reached/);
});

Deno.test("console provider writes one line with the number and the text", async () => {
  const lines: string[] = [];
  const sms = smsFromConfig(testConfig(), (l) => lines.push(l));
  await sms.send("+36201234567", "Your gatehouse code is 123456");
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.to, "+36201234567");
  assert.equal(line.text, "Your gatehouse code is 123456");
});
