/**
 * The secret scan (issue 15): after real flows (a phone login, a camera token, a demo-portal session in
 * Chromium answered with captchas and a password, its webhook_url carrying ?token=), no OTP code, token,
 * password, captcha answer or URL credential is in clear in any table or any log line.
 */
import assert from "node:assert/strict";
import { createWebhookWorker } from "../src/webhooks/mod.ts";
import { ADMIN, waitFor } from "./automation_fixtures.ts";
import { dbDump } from "./db_fingerprint.ts";
import { browserTest, DEMO_LOGIN, ended, servedApp } from "./e2e_fixtures.ts";

browserTest(
  "after a login, a camera token and a captcha session, no secret is in the database or the logs",
  async (pool) => {
    await using a = await servedApp(pool);
    const secrets = new Map<string, string>(); // what → the secret

    // a phone login (the code from the SMS), then a camera token
    const phone = "+36201239876";
    const asked = await a.call("POST", "/api/v1/otp/request", { phone });
    assert.equal(asked.status, 202);
    await asked.body?.cancel();
    const code = a.sms.lastCode(phone);
    secrets.set("OTP code", code);
    const login = await (await a.call("POST", "/api/v1/otp/verify", { phone, code })).json();
    secrets.set("access token", login.access_token);
    secrets.set("refresh token", login.refresh_token);
    const camera = await a.call("POST", "/api/v1/cameras/token", undefined, {
      authorization: `Bearer ${login.access_token}`,
    });
    assert.equal(camera.status, 200);
    const cameraToken = (await camera.json()).token;
    assert.equal(typeof cameraToken, "string");
    secrets.set("camera token", cameraToken);

    // a tax-portal session: a wrong password first, then the right one; its webhook_url has a token
    const received: string[] = [];
    await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      received.push(req.url);
      return new Response(null, { status: 204 });
    });
    const hookToken = "hook-token-31337";
    secrets.set("webhook URL token", hookToken);
    await using _worker = createWebhookWorker(a.deps, { pollMs: 10 }).start();
    const wrongPassword = "Pw-not-the-one-7781";
    secrets.set("password", wrongPassword);
    const created = await (await a.call("POST", "/api/v1/sessions", {
      flow: "api-access",
      input: {},
      webhook_url: `http://127.0.0.1:${hook.addr.port}/hook?token=${hookToken}`,
    }, ADMIN)).json();
    const answered = new Set<string>();
    for (const password of [wrongPassword, DEMO_LOGIN.password]) {
      const prompt = await waitFor(
        async () => {
          const p = (await a.automation.sessions.get(created.id)).prompt;
          return p && !answered.has(p.id) ? p : undefined;
        },
        "a captcha prompt",
        30_000,
      );
      answered.add(prompt.id);
      const captcha = (await a.debug()).captchas.at(-1)!.answer;
      secrets.set(`captcha answer ${answered.size}`, captcha);
      const r = await a.call("POST", `/api/v1/sessions/${created.id}/input`, {
        prompt: prompt.id,
        value: { captcha, username: DEMO_LOGIN.username, password },
      }, ADMIN);
      assert.equal(r.status, 202);
      await r.body?.cancel();
    }
    const final = await ended(a.automation.sessions, created.id);
    assert.equal(final.status, "succeeded", JSON.stringify(final));
    await waitFor(() => received.length > 0, "the webhook");
    assert.ok(received.every((url) => url.endsWith(`?token=${hookToken}`)), "the token reaches its target");

    // the scan
    const dump = await dbDump(a.db.db);
    const logs = a.log.lines.join("\n");
    const found: string[] = [];
    for (const [what, secret] of secrets) {
      const pattern = /^\d+$/.test(secret) ? new RegExp(`\\b${secret}\\b`) : undefined; // digits: as a word
      for (const [where, text] of [["database", dump], ["logs", logs]] as const) {
        if (pattern ? pattern.test(text) : text.includes(secret)) found.push(`${what} in the ${where}`);
      }
    }
    assert.deepEqual(found, []);
    assert.ok(dump.length > 1000 && logs.length > 1000, "the scan read a real database and real logs");
  },
);
