import assert from "node:assert/strict";
// An independent parser of the Prometheus text format, so the exposition is checked against the format.
import parsePrometheus from "parse-prometheus-text-format";
import { ADMIN, flussonicQuery, viewer } from "./camera_helpers.ts";
import { testApp } from "./helpers.ts";

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string> }[] };

async function scrape(
  app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> },
  headers = {},
) {
  const res = await app.request("/metrics", { headers });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(f: Family | undefined, labels: Record<string, string>): number {
  assert.ok(f, "series family present");
  const m = f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(m, `${f.name} has a series with ${JSON.stringify(labels)}`);
  return Number(m.value);
}

Deno.test("GET /metrics needs METRICS_TOKEN or an admin key (401 problem otherwise)", async () => {
  await using t = await testApp({ config: { METRICS_TOKEN: "scrape-token-0123456789" } });
  const anon = await t.app.request("/metrics");
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get("content-type"), "application/problem+json");
  const user = await t.login();
  assert.equal(
    (await t.app.request("/metrics", { headers: { authorization: `Bearer ${user.access_token}` } }))
      .status,
    401,
  );
  await scrape(t.app, { authorization: "Bearer scrape-token-0123456789" });
  await scrape(t.app, ADMIN);
});

Deno.test("GET /metrics counts requests per route pattern, OTP sends and limits, media-auth results", async () => {
  await using t = await testApp({ config: { OTP_RESEND_S: "60" } });
  const { token, login } = await viewer(t, ["gate-1"]);
  const ok = await t.app.request(`/api/v1/media/auth?${flussonicQuery({ name: "gate-1", token })}`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const again = await t.app.request(`/api/v1/media/auth?${flussonicQuery({ name: "gate-1", token })}`);
  await again.body?.cancel();
  const denied = await t.app.request(`/api/v1/media/auth?${flussonicQuery({ name: "other", token })}`);
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  // a second code to the same number within OTP_RESEND_S is refused: a limit hit
  const phone = login.user.phone;
  const limited = await t.json("POST", "/api/v1/otp/request", { phone });
  assert.equal(limited.status, 429);
  await limited.body?.cancel();
  for (const id of ["a1", "b2"]) {
    (await t.app.request(`/api/v1/sessions/${id}`, { headers: ADMIN })).body?.cancel();
  }

  const m = await scrape(t.app, ADMIN);
  const requests = m.get("gatehouse_http_requests_total");
  assert.equal(value(requests, { route: "/api/v1/media/auth", status: "200", method: "GET" }), 2);
  assert.equal(value(requests, { route: "/api/v1/media/auth", status: "403" }), 1);
  // never the raw path: both session ids are one series
  assert.ok(!requests!.metrics.some((s) => s.labels?.route?.includes("a1")));
  assert.ok(requests!.metrics.some((s) => s.labels?.route === "/api/v1/sessions/:id"));
  assert.equal(m.get("gatehouse_http_request_duration_seconds")?.type, "HISTOGRAM");
  assert.equal(value(m.get("gatehouse_media_auth_total"), { result: "allow" }), 2);
  assert.equal(value(m.get("gatehouse_media_auth_total"), { result: "deny" }), 1);
  assert.ok(value(m.get("gatehouse_media_auth_cache_hits"), {}) >= 1);
  assert.ok(value(m.get("gatehouse_media_auth_cache_hit_ratio"), {}) > 0);
  assert.equal(value(m.get("gatehouse_otp_sms_sent_total"), { provider: t.sms.name }), 1);
  assert.equal(value(m.get("gatehouse_otp_limited_total"), { route: "/api/v1/otp/request" }), 1);
  for (
    const name of [
      "gatehouse_session_prompt_wait_seconds",
      "gatehouse_otp_sms_failed_total",
      "gatehouse_webhook_messages",
    ]
  ) assert.ok(m.has(name), `${name} is exposed`);
});
