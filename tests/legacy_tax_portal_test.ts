/**
 * The tax-portal client, GET /captcha/ and PUT /enable_api/:token, with the real api-access flow in real
 * Chromium against the demo portal served by the same server. One browser pool per test (browserTest).
 */
import assert from "node:assert/strict";
import {
  automationArtifacts,
  automationEvents,
  automationSessions,
  legacyBookingJobs,
} from "../db/schema.ts";
import {
  browserTest,
  ended,
  fromBase64,
  isPng,
  type Json,
  type ServedApp,
  servedApp,
} from "./e2e_fixtures.ts";
import { problem } from "./helpers.ts";

const ADMIN = { "x-api-key": "admin-key" };
const BEARER_ADMIN = { authorization: "Bearer admin-key" };

/** `GET /captcha/` as the admin: the answer's body. */
async function newToken(a: ServedApp, path = "/captcha/"): Promise<Json> {
  const res = await a.call("GET", path, undefined, ADMIN);
  assert.equal(res.status, 200);
  return await res.json();
}

/** `PUT /enable_api/:token` with `body`. */
function enable(a: ServedApp, token: string, body: Json, headers: Record<string, string> = ADMIN) {
  return a.call("PUT", `/enable_api/${token}`, body, headers);
}

/** The answer of the captcha the portal shows now (what a human reads off the screen). */
async function shownCaptcha(a: ServedApp): Promise<string> {
  return (await a.debug()).captchas.at(-1)!.answer;
}

browserTest("GET /captcha/ answers 401 without an API key or access token", async (pool) => {
  await using a = await servedApp(pool);
  const anon = await a.call("GET", "/captcha/");
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
});

browserTest(
  "GET /captcha/ starts an api-access session and answers its captcha (a PNG without a data: prefix, ts in Unix seconds) with the session id as token",
  async (pool) => {
    await using a = await servedApp(pool);
    const res = await a.call("GET", "/captcha/", undefined, ADMIN);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /application\/json/);
    const first = await res.json();
    assert.deepEqual(Object.keys(first), ["message", "errors", "data"]);
    assert.equal(first.message, "Token generated");
    assert.deepEqual(first.errors, []);
    assert.deepEqual(Object.keys(first.data).sort(), ["captcha_base64", "token", "ts"]);
    assert.ok(isPng(fromBase64(first.data.captcha_base64)), "captcha_base64 is a PNG without a data: prefix");
    assert.doesNotMatch(first.data.captcha_base64, /^data:/);
    assert.equal(first.data.ts, Math.floor(a.clock.now().getTime() / 1000), "ts is unix seconds");
    const session = await a.automation.sessions.get(first.data.token);
    assert.equal(session.flow, "api-access");
  },
);

browserTest(
  "PUT /enable_api/:token answers 400 Login Unsuccessful with a new captcha and the same token when the portal refuses the password, and the session lives TAX_PORTAL_TTL_S longer",
  async (pool) => {
    await using a = await servedApp(pool);
    const first = await newToken(a);
    const token = first.data.token;
    const before = await a.automation.sessions.get(token);
    // The right captcha with a wrong password: refused by the portal, a new captcha, same token.
    const r1 = await enable(a, token, {
      username: "demo",
      password: "wrong",
      captcha: await shownCaptcha(a),
    });
    assert.equal(r1.status, 400);
    assert.match(r1.headers.get("content-type")!, /application\/json/);
    const b1 = await r1.json();
    assert.deepEqual(Object.keys(b1), ["message", "errors", "data"]);
    assert.equal(b1.message, "Login Unsuccessful");
    assert.deepEqual(b1.errors, ["Invalid username or password"]);
    assert.deepEqual(Object.keys(b1.data).sort(), ["captcha_base64", "token", "ts"]);
    assert.equal(b1.data.token, token);
    assert.ok(isPng(fromBase64(b1.data.captcha_base64)));
    assert.notEqual(b1.data.captcha_base64, first.data.captcha_base64, "a new captcha");
    const extended = await a.automation.sessions.get(token);
    assert.equal(
      Date.parse(extended.expires_at) - Date.parse(before.expires_at),
      240_000,
      "the session lives TAX_PORTAL_TTL_S longer",
    );
  },
);

browserTest(
  "PUT /enable_api/:token answers 400 Invalid captcha for a wrong captcha, and 409 to a second PUT while the first is being handled",
  async (pool) => {
    await using a = await servedApp(pool);
    const first = await newToken(a, "/captcha");
    const token = first.data.token;
    // A second PUT while the first is being handled is refused (409) rather than answering the next
    // captcha with a stale one.
    const [r2, parallel] = await Promise.all([
      enable(a, token, { username: "demo", password: "demo", captcha: "11111" }),
      enable(a, token, { username: "demo", password: "demo", captcha: "22222" }),
    ]).then((pair) => pair.sort((x, y) => x.status - y.status));
    assert.equal(parallel.status, 409);
    assert.match((await problem(parallel)).detail as string, /is not waiting for a captcha|is not open/);
    assert.equal(r2.status, 400);
    const b2 = await r2.json();
    assert.deepEqual([b2.message, b2.errors, b2.data.token], [
      "Login Unsuccessful",
      ["Invalid captcha"],
      token,
    ]);
    assert.notEqual(b2.data.captcha_base64, first.data.captcha_base64);
  },
);

browserTest(
  "PUT /enable_api/:token answers 404 Token not found for another caller's token or an unknown one, and a 422 problem for a body without the captcha",
  async (pool) => {
    await using a = await servedApp(pool);
    const token = (await newToken(a)).data.token;
    const user = await a.login();
    const foreign = await enable(a, token, { username: "demo", password: "demo", captcha: "X" }, {
      authorization: `Bearer ${user.access_token}`,
    });
    assert.equal(foreign.status, 404);
    assert.deepEqual(await foreign.json(), {
      message: "Token not found",
      errors: ["Token not found"],
      data: { token },
    });
    const shape = await enable(a, token, { username: "demo", password: "demo" });
    assert.equal(shape.status, 422);
    assert.deepEqual(((await problem(shape)).errors as Json[]).map((e) => e.field), ["captcha"]);
    const unknown = await enable(a, "no-such-token", { username: "u", password: "p", captcha: "c" });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), {
      message: "Token not found",
      errors: ["Token not found"],
      data: { token: "no-such-token" },
    });
  },
);

browserTest(
  "PUT /enable_api/:token answers 200 API access enabled for the right captcha (any case), after which the token is gone (404)",
  async (pool) => {
    await using a = await servedApp(pool);
    const token = (await newToken(a)).data.token;
    const r3 = await enable(a, token, {
      username: "demo",
      password: "demo",
      captcha: (await shownCaptcha(a)).toLowerCase(),
    });
    assert.equal(r3.status, 200);
    assert.deepEqual(await r3.json(), { message: "API access enabled", errors: [], data: { token } });
    const done = await a.automation.sessions.get(token);
    assert.equal(done.status, "succeeded");
    assert.equal((done.result as Json).message, "API access enabled for demo");

    const again = await enable(a, token, { username: "demo", password: "demo", captcha: "ABCDE" });
    assert.equal(again.status, 404, "the token ends with the enable call");
    assert.equal((await again.json()).message, "Token not found");
  },
);

browserTest("the password sent to PUT /enable_api/:token is never stored or logged", async (pool) => {
  await using a = await servedApp(pool, { LOG_LEVEL: "debug" });
  const token = (await newToken(a)).data.token;
  const secret = "wr0ng-pa55word-never-stored";
  const refused = await enable(a, token, {
    username: "demo",
    password: secret,
    captcha: await shownCaptcha(a),
  });
  assert.equal(refused.status, 400);
  await refused.body?.cancel();
  const enabled = await enable(a, token, {
    username: "demo",
    password: "demo",
    captcha: await shownCaptcha(a),
  });
  assert.equal(enabled.status, 200);
  await enabled.body?.cancel();

  const dump = JSON.stringify([
    await a.db.db.select().from(automationSessions),
    await a.db.db.select().from(automationEvents),
    await a.db.db.select().from(automationArtifacts),
    await a.db.db.select().from(legacyBookingJobs),
  ]);
  assert.ok(dump.includes(token), "the scan covers the session's rows");
  assert.ok(!dump.includes(secret), "the password is in the database");
  assert.ok(a.log.lines.some((l) => l.includes("/enable_api/")), "the requests were logged");
  assert.ok(!a.log.lines.join("\n").includes(secret), "the password is in the logs");
});

browserTest(
  "PUT /enable_api/:token answers 500 naming the step when the portal session expired while the captcha was read",
  async (pool) => {
    await using a = await servedApp(pool, { TAX_PORTAL_TTL_S: "600" });
    const first = await (await a.call("GET", "/captcha", undefined, BEARER_ADMIN)).json();
    const token = first.data.token;
    a.clock.advance(4 * 60_000 + 1_000); // the tax portal's 4-minute session
    const answer = await shownCaptcha(a);
    const credentials = { username: "demo", password: "demo", captcha: answer };
    const res = await enable(a, token, credentials, BEARER_ADMIN);
    assert.equal(res.status, 500);
    assert.match(res.headers.get("content-type")!, /application\/json/);
    assert.deepEqual(await res.json(), {
      message: "Step failed on login",
      errors: ["The tax portal session expired: Session expired"],
      data: { token },
    });
    const gone = await enable(a, token, credentials, BEARER_ADMIN);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  },
);

// Seed 004: "In case of 400 error, show the new captcha to user and repeat PUT call", each PUT carrying
// the "captcha input from user along with username and password".
browserTest(
  "PUT /enable_api/:token after a 400 for a wrong captcha uses the credentials of the new PUT, not the first one's",
  async (pool) => {
    await using a = await servedApp(pool);
    const token = (await newToken(a)).data.token;
    const r1 = await enable(a, token, { username: "demo", password: "demo", captcha: "22222" });
    assert.equal(r1.status, 400);
    assert.deepEqual((await r1.json()).errors, ["Invalid captcha"]);
    // The right captcha with another account's credentials: the portal judges THESE (and refuses them).
    const r2 = await enable(a, token, {
      username: "someone",
      password: "else",
      captcha: await shownCaptcha(a),
    });
    assert.equal(r2.status, 400);
    assert.deepEqual((await r2.json()).errors, ["Invalid username or password"]);
    const r3 = await enable(a, token, { username: "demo", password: "demo", captcha: await shownCaptcha(a) });
    assert.equal(r3.status, 200);
    assert.deepEqual(await r3.json(), { message: "API access enabled", errors: [], data: { token } });
  },
);

browserTest(
  "TAX_PORTAL_AUTH=none opens GET /captcha/ and PUT /enable_api/:token without a key; a token lives TAX_PORTAL_TTL_S",
  async (pool) => {
    await using a = await servedApp(pool, { TAX_PORTAL_AUTH: "none", TAX_PORTAL_TTL_S: "300" });
    const res = await a.call("GET", "/captcha/");
    assert.equal(res.status, 200);
    const token = (await res.json()).data.token;
    const view = await a.automation.sessions.get(token);
    assert.equal(Date.parse(view.expires_at) - Date.parse(view.created_at), 300_000, "the old -ttl");
    assert.equal(Date.parse(view.prompt!.expires_at) - Date.parse(view.prompt!.opened_at), 300_000);
    // A logged-in user cannot answer a keyless caller's token; the keyless caller can.
    const user = await a.login();
    const foreign = await a.call("PUT", `/enable_api/${token}`, {
      username: "u",
      password: "p",
      captcha: "c",
    }, {
      authorization: `Bearer ${user.access_token}`,
    });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();
    const ok = await a.call("PUT", `/enable_api/${token}`, {
      username: "demo",
      password: "demo",
      captcha: await shownCaptcha(a),
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { message: "API access enabled", errors: [], data: { token } });

    // Without an answer, a token is gone once TAX_PORTAL_TTL_S have passed.
    const idle = (await (await a.call("GET", "/captcha")).json()).data.token;
    a.clock.advance(300_000);
    assert.equal((await ended(a.automation.sessions, idle)).status, "expired");
    const gone = await a.call("PUT", `/enable_api/${idle}`, {
      username: "demo",
      password: "demo",
      captcha: "X",
    });
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).message, "Token not found");
  },
);
