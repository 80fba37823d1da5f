/**
 * Webhook URLs with credentials (issue 15, item 11): sealed at rest, opened only to post, and never in
 * an attempt's error or a log line, even when the target cannot be reached.
 */
import assert from "node:assert/strict";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "../db/schema.ts";
import { enqueueEvent } from "../src/webhooks/outbox.ts";
import { BOOKING_FLOW } from "../src/automation/legacy/booking_status.ts";
import { createWebhookWorker, secretBoxOf } from "../src/webhooks/mod.ts";
import { openUrl, redactUrl, sealUrl } from "../src/webhooks/url_seal.ts";
import { ADMIN } from "./fota_fixtures.ts";
import { testApp } from "./helpers.ts";
import { outboxStore, scriptedSession } from "./webhook_fixtures.ts";

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("a URL with user info or a query is sealed; one without stays readable; both open back", async () => {
  await using t = await testApp();
  const box = secretBoxOf(t.deps.config);
  for (const url of ["https://u:p@hooks.example/x", "https://hooks.example/x?token=abc"]) {
    const sealed = sealUrl(box, url);
    assert.match(sealed, /^sealed:v1\./);
    assert.ok(!sealed.includes("abc") && !sealed.includes("u:p"));
    assert.equal(openUrl(box, sealed), url);
  }
  assert.equal(sealUrl(box, "https://hooks.example/x"), "https://hooks.example/x");
  assert.equal(redactUrl("https://u:p@hooks.example/x?token=abc"), "https://hooks.example/x?…");
});

Deno.test("an unreachable BOOKING_WEBHOOK_URL with ?token= is sealed in its messages and kept out of errors and logs", async () => {
  const token = "booking-token-8086";
  await using t = await testApp({
    config: {
      BOOKING_WEBHOOK_URL: `http://127.0.0.1:${closedPort()}/hook?token=${token}`,
      WEBHOOK_RETRY_SCHEDULE: "0,300",
    },
  });
  await scriptedSession(outboxStore(t.deps), t.clock, { flow: BOOKING_FLOW });
  await using w = createWebhookWorker(t.deps, { pollMs: 10 });
  await w.drain();
  const messages = await t.db.db.select().from(webhookMessages);
  assert.ok(messages.length > 0);
  assert.ok(messages.every((m) => m.url.startsWith("sealed:v1.")));
  const attempts = await t.db.db.select().from(webhookAttempts);
  assert.ok(attempts.length > 0 && attempts.every((a) => a.error), "the posts failed");
  const stored = JSON.stringify([messages, attempts]);
  assert.ok(!stored.includes(token), "no row holds the token");
  assert.ok(t.log.lines.some((l) => l.includes("webhook attempt failed")));
  assert.ok(!t.log.lines.some((l) => l.includes(token)), "no log line holds the token");
});

Deno.test("a subscription URL with ?token= is sealed in its row and its messages, shown and delivered whole", async () => {
  await using t = await testApp();
  const received: string[] = [];
  await using target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    received.push(req.url);
    return new Response(null, { status: 204 });
  });
  const url = `http://127.0.0.1:${target.addr.port}/sub?token=sub-token-4242`;
  const made = await t.json("POST", "/api/v1/webhooks", { url, events: ["device.claimed"] }, ADMIN);
  assert.equal(made.status, 201);
  const { id } = await made.json();
  const [row] = await t.db.db.select().from(webhookEndpoints);
  assert.match(row.url, /^sealed:v1\./);
  assert.equal((await (await t.json("GET", `/api/v1/webhooks/${id}`, undefined, ADMIN)).json()).url, url);
  await enqueueEvent(t.deps.db, { type: "device.claimed", data: { device_id: "d1" } }, t.clock.now());
  const [message] = await t.db.db.select().from(webhookMessages);
  assert.match(message.url, /^sealed:v1\./);
  await using w = createWebhookWorker(t.deps, { pollMs: 10 });
  await w.drain();
  assert.deepEqual(received, [url]);
  assert.ok(!t.log.lines.some((l) => l.includes("sub-token-4242")));
});
