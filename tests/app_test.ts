import assert from "node:assert/strict";
import { otpRequests, users } from "../db/schema.ts";
import { problem, testApp } from "./helpers.ts";

Deno.test("GET /health answers 200 {status: ok}", async () => {
  await using t = await testApp();
  const res = await t.app.request("/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok" });
});

Deno.test("GET /health/detailed reports database reachability and latency, version and uptime", async () => {
  await using t = await testApp();
  const res = await t.app.request("/health/detailed");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.checks.database.status, "ok");
  assert.equal(typeof body.checks.database.latency_ms, "number");
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof body.uptime_s, "number");
});

Deno.test("GET /health/detailed counts uptime_s from the injected start time (deps.startedAt)", async () => {
  await using t = await testApp({ deps: () => ({ startedAt: performance.now() - 90_000 }) });
  const body = await (await t.app.request("/health/detailed")).json();
  assert.equal(body.uptime_s, 90);
});

Deno.test("GET /health/detailed answers 503 when the database is down", async () => {
  const t = await testApp();
  await t.db.close();
  const res = await t.app.request("/health/detailed");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).checks.database.status, "error");
});

Deno.test("an unknown route answers a 404 problem", async () => {
  await using t = await testApp();
  const res = await t.app.request("/api/v1/nothing-here");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.title, "Not Found");
  assert.equal(body.instance, "/api/v1/nothing-here");
});

Deno.test("malformed JSON answers 400 problem and changes nothing", async () => {
  await using t = await testApp();
  for (const body of ['{"phone":', "not json", "[1,2", '{"phone":"+36201234567"']) {
    const res = await t.json("POST", "/api/v1/otp/request", body);
    assert.equal(res.status, 400, body);
    assert.equal((await problem(res)).status, 400);
  }
  assert.equal((await t.db.db.select().from(otpRequests)).length, 0);
  assert.equal(t.sms.sent.length, 0);
});

Deno.test("wrong types and values answer 422 listing the fields", async () => {
  await using t = await testApp();
  const cases: [unknown, string[]][] = [
    [{}, ["phone"]],
    [{ phone: 36201234567 }, ["phone"]],
    [{ phone: null }, ["phone"]],
    [[], ["(body)"]],
    ["null", ["(body)"]],
  ];
  for (const [body, fields] of cases) {
    const res = await t.json("POST", "/api/v1/otp/request", body);
    assert.equal(res.status, 422, JSON.stringify(body));
    const p = await problem(res);
    assert.deepEqual((p.errors as { field: string }[]).map((e) => e.field), fields);
  }
  const verify = await t.json("POST", "/api/v1/otp/verify", { phone: "+36201234567", code: "12ab" });
  assert.equal(verify.status, 422);
  assert.deepEqual(((await problem(verify)).errors as { field: string }[]).map((e) => e.field), ["code"]);
});

Deno.test("a body over 64 KiB answers 413 problem", async () => {
  await using t = await testApp();
  const res = await t.json("POST", "/api/v1/otp/request", { phone: "+36201234567", pad: "x".repeat(70_000) });
  assert.equal(res.status, 413);
  assert.equal((await problem(res)).status, 413);
  assert.equal(t.sms.sent.length, 0);
});

Deno.test("every answer carries a request id, and one log line per request holds no secrets", async () => {
  await using t = await testApp({ config: { LOG_LEVEL: "info" } });
  const s = await t.login("+36201234567");
  const res = await t.app.request("/health", { headers: { "x-request-id": "abc-123" } });
  assert.equal(res.headers.get("x-request-id"), "abc-123");
  const lines = t.log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
  assert.equal(lines.length, 3);
  assert.deepEqual(Object.keys(lines[2]).sort(), [
    "duration_ms",
    "level",
    "method",
    "msg",
    "path",
    "request_id",
    "status",
    "time",
  ]);
  const all = t.log.lines.join("\n");
  for (const secret of [s.access_token, s.refresh_token, t.sms.lastCode()]) assert.ok(!all.includes(secret));
});

Deno.test("the demo portal is mounted at /demo unless DEMO_PORTAL=false", async () => {
  await using on = await testApp();
  assert.equal((await on.app.request("/demo/registry/login")).status, 200);
  await using off = await testApp({ config: { DEMO_PORTAL: "false" } });
  const res = await off.app.request("/demo/registry/login");
  assert.equal(res.status, 404);
  await res.body?.cancel();
  assert.equal((await off.db.db.select().from(users)).length, 0);
});

Deno.test("GET / serves the web console", async () => {
  await using t = await testApp();
  const res = await t.app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const html = await res.text();
  assert.match(html, /gatehouse console/);
  // The page's modules talk only to the public API (sign-in is in app.js).
  const api = await (await t.app.request("/console/app.js")).text();
  assert.match(api, /\/api\/v1\/otp\/request/);
});

Deno.test("HTML answers carry nosniff, no framing and no referrer", async () => {
  await using t = await testApp();
  const res = await t.app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.match(res.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  await res.body?.cancel();
});
