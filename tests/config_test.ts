import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.ts";

Deno.test("loadConfig applies the documented defaults", () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 8000);
  assert.equal(c.DATABASE_URL, undefined);
  assert.equal(c.DATA_DIR, "./data");
  assert.equal(c.OTP_LENGTH, 6);
  assert.equal(c.OTP_TTL_S, 300);
  assert.equal(c.OTP_MAX_ATTEMPTS, 5);
  assert.equal(c.OTP_RESEND_S, 60);
  assert.equal(c.OTP_MAX_PER_HOUR, 5);
  assert.equal(c.OTP_IP_MAX_PER_HOUR, 30);
  assert.equal(c.ACCESS_TOKEN_TTL_S, 900);
  assert.equal(c.REFRESH_TOKEN_TTL_S, 30 * 24 * 3600);
  assert.equal(c.SMS_PROVIDER, "console");
  assert.deepEqual(c.API_KEYS, []);
});

Deno.test("loadConfig coerces numbers and splits API_KEYS", () => {
  const c = loadConfig({ PORT: "9000", API_KEYS: " a, b ,,c ", DEFAULT_REGION: "hu" });
  assert.equal(c.PORT, 9000);
  assert.deepEqual(c.API_KEYS, ["a", "b", "c"]);
  assert.equal(c.DEFAULT_REGION, "HU");
});

Deno.test("ENV=production without JWT_SECRET stops start-up with a clear message", () => {
  assert.throws(() => loadConfig({ ENV: "production" }), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /JWT_SECRET/);
    assert.match(err.message, /openssl rand/);
    return true;
  });
  const prod = { ENV: "production", JWT_SECRET: "x".repeat(32), PUBLIC_URL: "https://gh.example" };
  assert.equal(loadConfig({ ...prod, ALLOW_CONSOLE_SMS: "true" }).ENV, "production");
  assert.throws(
    () => loadConfig({ ...prod, ALLOW_CONSOLE_SMS: "true", PUBLIC_URL: "" }),
    (e) => e instanceof ConfigError && /PUBLIC_URL is required/.test(e.message),
    "links are never built from a request's Host in production",
  );
});

Deno.test("a provider without its settings, or a bad value, is a ConfigError naming the key", () => {
  assert.throws(() => loadConfig({ SMS_PROVIDER: "kannel" }), /KANNEL_URL/);
  assert.throws(
    () => loadConfig({ SMS_PROVIDER: "twilio", TWILIO_ACCOUNT_SID: "AC1", TWILIO_AUTH_TOKEN: "t" }),
    /TWILIO_FROM/,
  );
  assert.throws(() => loadConfig({ PORT: "eighty" }), /PORT/);
  assert.throws(() => loadConfig({ OTP_MESSAGE: "no placeholder" }), /OTP_MESSAGE/);
});

Deno.test("production refuses the console SMS provider (unless ALLOW_CONSOLE_SMS) and the demo portal", () => {
  const prod = { ENV: "production", JWT_SECRET: "x".repeat(32), PUBLIC_URL: "https://gh.example" };
  assert.throws(
    () => loadConfig(prod),
    (e) => e instanceof ConfigError && /SMS_PROVIDER: the console provider/.test(e.message),
  );
  const trial = loadConfig({ ...prod, ALLOW_CONSOLE_SMS: "true" });
  assert.equal(trial.DEMO_PORTAL, false, "the demo is off by default in production");
  assert.throws(
    () => loadConfig({ ...prod, ALLOW_CONSOLE_SMS: "true", DEMO_PORTAL: "true" }),
    (e) =>
      e instanceof ConfigError &&
      /DEMO_PORTAL: the demo portal is never served in production/.test(e.message),
  );
  assert.equal(loadConfig({}).DEMO_PORTAL, true, "on by default in development");
});
