/**
 * The booking frontend's webhooks, with the real exam-booking flow in real Chromium against the demo
 * portal: a receiver written from the booking seed's README alone (`event_type`, `job_id`, `user_id`,
 * `data`; WEBHOOK_SECRET a plain string) gets the four event types in the old shapes and order, signed
 * `X-Webhook-Signature: sha256=<hex>` and per Standard Webhooks (checked by the standardwebhooks package).
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { systemClock } from "../src/clock.ts";
import { BOOKING_FLOW_STATUSES, browserTest, servedApp, tickClock } from "./e2e_fixtures.ts";
import { waitFor } from "./automation_fixtures.ts";
import { worker } from "./webhook_fixtures.ts";

const SECRET = "your-webhook-secret-key"; // as the old .env had it: any string

/** The Supabase edge function of the seed, as a local server: reads the four fields, checks the HMAC. */
function bookingReceiver() {
  const got: {
    event_type: string;
    job_id: string;
    user_id: string;
    data: Record<string, unknown>;
    timestamp: string;
  }[] = [];
  const raw: { body: string; headers: Record<string, string> }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    const hex = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (req.headers.get("x-webhook-signature") !== `sha256=${hex}`) {
      return new Response("bad signature", { status: 401 });
    }
    const { event_type, job_id, user_id, data, timestamp } = JSON.parse(body);
    if (req.headers.get("x-webhook-event") !== event_type) {
      return new Response("bad event header", { status: 400 });
    }
    got.push({ event_type, job_id, user_id, data, timestamp });
    raw.push({ body, headers: Object.fromEntries(req.headers.entries()) });
    return Response.json({ ok: true });
  });
  return { got, raw, url: `http://127.0.0.1:${server.addr.port}/functions/v1/booking-webhook`, server };
}

browserTest(
  "a booking job's webhooks reach the frontend's default URL (SUPABASE_WEBHOOK_URL) in the old shapes and order, signed both ways",
  async (pool) => {
    const hook = bookingReceiver();
    try {
      await using a = await servedApp(pool, { WEBHOOK_SECRET: SECRET, SUPABASE_WEBHOOK_URL: hook.url });
      // webhook-timestamp from the real clock: the reference verifier allows 5 minutes of skew
      await using _w = worker({ ...a.deps, clock: systemClock }).start();
      const res = await a.call("POST", "/api/v1/booking/start", {
        user_id: "user_123",
        license_type: "B",
        exam_type: "driving",
        locations: ["Stockholm", "Göteborg"],
      }, { authorization: "Bearer admin-key" });
      assert.equal(res.status, 200);
      const { job_id } = await res.json();
      {
        using _tick = tickClock(a);
        await waitFor(
          () => hook.got.some((e) => e.event_type === "qr_code_update"),
          "a qr_code_update",
          60_000,
        );
        assert.equal(await a.approveQr(), 1);
        await waitFor(
          () => hook.got.some((e) => e.event_type === "booking_completed"),
          "booking_completed",
          60_000,
        );
      }
      const types = hook.got.map((e) => e.event_type);
      assert.equal(types[0], "booking_started");
      assert.equal(types.at(-1), "booking_completed");
      assert.deepEqual([...new Set(types)].sort(), [
        "booking_completed",
        "booking_started",
        "qr_code_update",
        "status_update",
      ]);
      for (const e of hook.got) {
        assert.equal(e.job_id, job_id);
        assert.equal(e.user_id, "user_123");
        assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      }
      const started = hook.got[0].data;
      assert.deepEqual(started.config, {
        license_type: "B",
        exam_type: "driving",
        locations: ["Stockholm", "Göteborg"],
      });
      assert.equal(started.estimated_duration, "60-180 seconds");
      const statuses = hook.got.filter((e) => e.event_type === "status_update").map((e) => e.data);
      const order = statuses.map((s) => BOOKING_FLOW_STATUSES.indexOf(s.status as string));
      assert.ok(
        order.every((n, i) => n >= 0 && (i === 0 || n > order[i - 1])),
        `old status order: ${statuses.map((s) => s.status)}`,
      );
      assert.equal(statuses.at(-1)!.status, "completed");
      for (const s of statuses) {
        assert.equal(typeof s.message, "string");
        assert.equal(typeof s.progress, "number");
      }
      const qr = hook.got.find((e) => e.event_type === "qr_code_update")!.data;
      assert.match(qr.qr_code_data as string, /^data:image\/png;base64,/);
      assert.equal(typeof qr.expires_in, "number");
      const firstQr = types.indexOf("qr_code_update");
      assert.ok(types.slice(0, firstQr).includes("status_update"), "QR after the first status updates");
      const done = hook.got.at(-1)!.data as { success: boolean; booking_result: Record<string, string> };
      assert.equal(done.success, true);
      for (const k of ["booking_id", "exam_date", "exam_time"]) {
        assert.equal(typeof done.booking_result[k], "string", k);
      }
      assert.match(done.booking_result.exam_date, /^\d{4}-\d\d-\d\d$/);
      const verifier = new Webhook(SECRET, { format: "raw" });
      for (const r of hook.raw) verifier.verify(r.body, r.headers);
      assert.equal(new Set(hook.raw.map((r) => r.headers["webhook-id"])).size, hook.raw.length);
    } finally {
      await hook.server.shutdown();
    }
  },
);
