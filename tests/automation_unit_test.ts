import assert from "node:assert/strict";
import { checkAnswer } from "../src/automation/runtime.ts";
import { signWebhook } from "../src/webhooks/signing.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { ValidationError } from "../src/errors.ts";

const fields = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.errors.map((e) => e.field);
    throw err;
  }
  return [];
};

Deno.test("webhook signatures match the Standard Webhooks reference example", () => {
  // From the Standard Webhooks spec / svix docs.
  assert.equal(
    signWebhook(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    ),
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  );
});

Deno.test("answers must fit their prompt: strings, choices, and an object with every field", () => {
  assert.equal(checkAnswer({ kind: "code" }, "123456"), "123456");
  assert.deepEqual(fields(() => checkAnswer({ kind: "code" }, "  ")), ["value"]);
  assert.deepEqual(fields(() => checkAnswer({ kind: "text" }, { a: "b" })), ["value"]);
  const creds = {
    kind: "credentials" as const,
    fields: [{ name: "user", label: "U" }, { name: "pass", label: "P" }],
  };
  assert.deepEqual(checkAnswer(creds, { user: "a", pass: "b" }), { user: "a", pass: "b" });
  assert.deepEqual(fields(() => checkAnswer(creds, { user: "a" })), ["value.pass"]);
  assert.deepEqual(fields(() => checkAnswer(creds, { user: "a", pass: "b", x: "c" })), ["value.x"]);
  const captcha = { kind: "captcha" as const, fields: [{ name: "pin", label: "PIN" }] };
  assert.deepEqual(checkAnswer(captcha, { captcha: "xk3p", pin: "1234" }), { pin: "1234", captcha: "xk3p" });
  assert.deepEqual(fields(() => checkAnswer(captcha, "xk3p")), ["value"]);
  assert.equal(checkAnswer({ kind: "captcha" }, "xk3p"), "xk3p");
  const choice = { kind: "choice" as const, options: [{ value: "a", label: "A" }] };
  assert.equal(checkAnswer(choice, "a"), "a");
  assert.deepEqual(fields(() => checkAnswer(choice, "b")), ["value"]);
  assert.deepEqual(fields(() => checkAnswer({ kind: "text" }, "x".repeat(1001))), ["value"]);
});

Deno.test("automation config: defaults, FLOW_SECRETS as JSON per flow, webhook settings", () => {
  const c = loadConfig({});
  assert.deepEqual(
    [c.MAX_SESSIONS, c.MAX_QUEUE, c.SESSION_PROMPT_TIMEOUT_S, c.SESSION_MAX_S, c.FLOW_SECRETS],
    [8, 32, 240, 900, {}],
  );
  const s = loadConfig({ FLOW_SECRETS: '{"vehicle-lookup":{"username":"u","password":"p"}}' });
  assert.deepEqual(s.FLOW_SECRETS, { "vehicle-lookup": { username: "u", password: "p" } });
  assert.throws(() => loadConfig({ FLOW_SECRETS: "{not json" }), ConfigError);
  assert.throws(() => loadConfig({ FLOW_SECRETS: '{"f":{"n":1}}' }), ConfigError);
  // webhooks: any WEBHOOK_SECRET string (the booking frontend's), the Svix schedule, private targets by ENV
  assert.equal(loadConfig({ WEBHOOK_SECRET: "plain" }).WEBHOOK_SECRET, "plain");
  assert.deepEqual(c.WEBHOOK_RETRY_SCHEDULE, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
  assert.throws(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: "0,five" }), ConfigError);
  assert.equal(c.WEBHOOK_ALLOW_PRIVATE, true);
  const prod = { ENV: "production", JWT_SECRET: "x".repeat(32), PUBLIC_URL: "https://gh.example" };
  assert.equal(loadConfig({ ...prod, ALLOW_CONSOLE_SMS: "true" }).WEBHOOK_ALLOW_PRIVATE, false);
  const alias = loadConfig({ SUPABASE_WEBHOOK_URL: "https://p.supabase.co/functions/v1/booking-webhook" });
  assert.equal(alias.BOOKING_WEBHOOK_URL, "https://p.supabase.co/functions/v1/booking-webhook");
  assert.throws(() => loadConfig({ BROWSER_WS_ENDPOINT: "http://x" }), ConfigError);
});
