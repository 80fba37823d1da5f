/**
 * The driving-test booking frontend, /api/v1/booking/… and WS /ws/:job_id, with the real exam-booking flow
 * in real Chromium against the demo portal served by the same server. One browser pool per test
 * (browserTest); the fake clock ticks while a QR is up, as the demo draws its BankID QR from it.
 */
import assert from "node:assert/strict";
import {
  BOOKING_FLOW_STATUSES,
  browserTest,
  dedupe,
  ended,
  fromBase64,
  isPng,
  type Json,
  type ServedApp,
  servedApp,
  socket,
  tickClock,
} from "./e2e_fixtures.ts";
import { problem } from "./helpers.ts";

const ADMIN = { "x-api-key": "admin-key" };
const BEARER_ADMIN = { authorization: "Bearer admin-key" };
const BOOKING = {
  user_id: "user_123",
  license_type: "B",
  exam_type: "driving",
  locations: ["Stockholm", "Göteborg"],
};
/** The demo's earliest slot across Stockholm (days 2, 4, 9) and Göteborg (1, 5, 8): Göteborg, the next day. */
const EARLIEST = { exam_date: "2026-01-02", exam_time: "13:40", location: "Göteborg" };

/** `POST /api/v1/booking/start` with `body` as `headers`' caller: the answer's body. */
async function startJob(a: ServedApp, body: Json = BOOKING, headers: Record<string, string> = BEARER_ADMIN) {
  const res = await a.call("POST", "/api/v1/booking/start", body, headers);
  assert.equal(res.status, 200);
  return await res.json();
}

/** Starts a job and follows it on its socket (`?token=`) until its QR streams. */
async function jobAtQr(a: ServedApp) {
  const started = await startJob(a);
  const ws = socket(`${a.wsBase}${started.websocket_url}?token=admin-key`);
  await ws.opened;
  await ws.next((m) => m.type === "qr_update", "the first qr_update");
  return { started, ws };
}

/** Runs a job to completion: QR, BankID approval, booking; answers its socket and booking_completed. */
async function completedJob(a: ServedApp) {
  const { started, ws } = await jobAtQr(a);
  assert.equal(await a.approveQr(), 1);
  const completed = await ws.next((m) => m.type === "booking_completed", "booking_completed");
  return { started, ws, completed };
}

browserTest(
  "POST /api/v1/booking/start answers 401 without a key, a 422 problem naming locations or user_id (required with an API key), and 403 for a user naming another user_id",
  async (pool) => {
    await using a = await servedApp(pool);
    const anon = await a.call("POST", "/api/v1/booking/start", BOOKING);
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    const bad = await a.call("POST", "/api/v1/booking/start", { ...BOOKING, locations: [] }, BEARER_ADMIN);
    assert.equal(bad.status, 422);
    assert.deepEqual(((await problem(bad)).errors as Json[]).map((e) => e.field), ["locations"]);
    const noUser = await a.call(
      "POST",
      "/api/v1/booking/start",
      { ...BOOKING, user_id: undefined },
      BEARER_ADMIN,
    );
    assert.equal(noUser.status, 422);
    assert.deepEqual(((await problem(noUser)).errors as Json[]).map((e) => e.field), ["user_id"]);
    const user = await a.login();
    const foreignId = await a.call("POST", "/api/v1/booking/start", { ...BOOKING, user_id: "someone-else" }, {
      authorization: `Bearer ${user.access_token}`,
    });
    assert.equal(foreignId.status, 403);
    await foreignId.body?.cancel();
    assert.deepEqual(await a.automation.sessions.list(), [], "no job was started");
  },
);

browserTest(
  "POST /api/v1/booking/start answers the job id with its socket and QR poll URLs; its socket answers 401 without credentials",
  async (pool) => {
    await using a = await servedApp(pool);
    const res = await a.call("POST", "/api/v1/booking/start", BOOKING, BEARER_ADMIN);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /application\/json/);
    const started = await res.json();
    const jobId = started.job_id;
    assert.deepEqual(started, {
      job_id: jobId,
      status: "starting",
      message: "Booking automation started",
      webhook_configured: false,
      websocket_url: `/ws/${jobId}`,
      qr_polling_url: `/api/v1/booking/${jobId}/qr`,
    });
    const wsAnon = await a.call("GET", started.websocket_url, undefined, { upgrade: "websocket" });
    assert.equal(wsAnon.status, 401);
    await wsAnon.body?.cancel();
    const [session] = await a.automation.sessions.list();
    assert.equal(session.flow, "exam-booking");
    assert.notEqual(jobId, session.id, "the job id is not the session id");
    assert.match(jobId, /^[A-Za-z0-9_-]{43}$/, "32 bytes, base64url");
  },
);

browserTest("GET /api/v1/booking/:job_id/qr answers the live BankID QR as a PNG data URL", async (pool) => {
  await using a = await servedApp(pool);
  using _ticking = tickClock(a);
  const { started, ws } = await jobAtQr(a);
  const r = await a.call("GET", started.qr_polling_url, undefined, BEARER_ADMIN);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /application\/json/);
  assert.equal(r.headers.get("cache-control"), "no-store");
  const qr = await r.json();
  assert.deepEqual(Object.keys(qr), ["type", "job_id", "image_data", "timestamp"]);
  assert.equal(qr.type, "qr_update");
  assert.equal(qr.job_id, started.job_id);
  assert.match(qr.image_data, /^data:image\/png;base64,/);
  assert.ok(isPng(fromBase64(qr.image_data)));
  assert.ok(!Number.isNaN(Date.parse(qr.timestamp)));
  await ws.close();
});

// Real time on purpose: "at least one qr_update per second" is a promise about the wall clock (the flow's
// heartbeat runs on real timers in the browser); here alone, so a busy machine blames only this test.
browserTest("WS /ws/:job_id sends a qr_update at least once a second while the QR is up", async (pool) => {
  await using a = await servedApp(pool);
  using _ticking = tickClock(a);
  const { ws } = await jobAtQr(a);
  const updates = () => ws.messages.filter((m) => m.type === "qr_update");
  await ws.next(
    () => updates().length >= 3 && new Set(updates().map((m) => m.image_data)).size >= 2,
    "three QR updates, two different",
  );
  const approvedAt = performance.now();
  assert.equal(await a.approveQr(), 1);
  await ws.next((m) => m.type === "booking_completed", "booking_completed");

  const frames = ws.messages.map((m, i) => ({ m, at: ws.arrivals[i] }))
    .filter(({ m, at }) => m.type === "qr_update" && at <= approvedAt);
  assert.ok(frames.every(({ m }) => Object.keys(m).join() === "type,job_id,image_data,timestamp"));
  const gaps = frames.slice(1).map(({ at }, i) => at - frames[i].at);
  assert.ok(
    Math.max(...gaps) < 1000,
    `gaps between qr_update messages: ${gaps.map(Math.round).join(", ")} ms`,
  );
  await ws.closed;
});

browserTest(
  "WS /ws/:job_id sends the job's statuses in the flow's order, then completed and booking_completed with the booking result, and closes (1000)",
  async (pool) => {
    await using a = await servedApp(pool);
    using _ticking = tickClock(a);
    const { started, ws, completed } = await completedJob(a);
    assert.equal((await ws.closed).code, 1000, "the server closes the socket when the job ends");

    const statuses = ws.messages.filter((m) => m.type === "status_update");
    assert.ok(
      statuses.every((m) => Object.keys(m).join() === "type,job_id,status,message,progress,timestamp"),
    );
    const order = dedupe(statuses.map((m) => m.status));
    assert.deepEqual(order, BOOKING_FLOW_STATUSES.slice(BOOKING_FLOW_STATUSES.indexOf(order[0])));
    assert.ok(BOOKING_FLOW_STATUSES.indexOf(order[0]) <= BOOKING_FLOW_STATUSES.indexOf("qr_waiting"));
    const waitingUpdate = statuses.find((m) => m.status === "qr_waiting")!;
    assert.equal(waitingUpdate.message, "Waiting for BankID authentication");
    assert.equal(waitingUpdate.progress, 20);
    assert.deepEqual(statuses.at(-1), {
      type: "status_update",
      job_id: started.job_id,
      status: "completed",
      message: "Booking completed",
      progress: 100,
      timestamp: statuses.at(-1)!.timestamp,
    });
    assert.match(completed.booking_result.booking_id, /^TV\d{9}$/);
    assert.deepEqual(completed, {
      type: "booking_completed",
      job_id: started.job_id,
      success: true,
      status: "completed",
      booking_result: { booking_id: completed.booking_result.booking_id, ...EARLIEST },
      error: null,
    });
  },
);

browserTest(
  "a completed job reads as completed: GET /api/v1/booking/status/:job_id has the booking result, the QR poll answers 404, a late socket gets the final two messages",
  async (pool) => {
    await using a = await servedApp(pool);
    using _ticking = tickClock(a);
    const { started, ws, completed } = await completedJob(a);
    await ws.closed;
    const jobId = started.job_id;
    const booking = { booking_id: completed.booking_result.booking_id, ...EARLIEST };

    const status = await a.call("GET", `/api/v1/booking/status/${jobId}`, undefined, BEARER_ADMIN);
    assert.equal(status.status, 200);
    const job = await status.json();
    assert.deepEqual(
      { ...job, created_at: "", updated_at: "", finished_at: "" },
      {
        job_id: jobId,
        user_id: "user_123",
        status: "completed",
        message: "Booking completed",
        progress: 100,
        booking_result: booking,
        error: null,
        error_step: null,
        created_at: "",
        updated_at: "",
        finished_at: "",
      },
    );
    const gone = await a.call("GET", started.qr_polling_url, undefined, BEARER_ADMIN);
    assert.equal(gone.status, 404);
    assert.match((await problem(gone)).detail as string, /shows no QR code now \(completed\)/);

    // A late socket on an ended job gets where it stands, then the server hangs up.
    const late = socket(`${a.wsBase}/ws/${jobId}`, ADMIN);
    assert.equal((await late.closed).code, 1000);
    assert.deepEqual(late.messages.map((m) => [m.type, m.status]), [
      ["status_update", "completed"],
      ["booking_completed", "completed"],
    ]);
    assert.deepEqual(late.messages[1].booking_result, booking);
  },
);

browserTest(
  "users list and see only their own booking jobs (others' are 404, also over WS); an admin lists every job, newest first",
  async (pool) => {
    await using a = await servedApp(pool);
    const user = await a.login();
    const bearer = { authorization: `Bearer ${user.access_token}` };
    const body = { license_type: "B", exam_type: "driving", locations: ["Uppsala"] };
    const mine = await startJob(a, body, bearer);
    a.clock.advance(1000); // lists are newest first
    const admins = await startJob(a, { ...body, user_id: "ops" }, ADMIN);

    const hidden = await a.call("GET", `/api/v1/booking/status/${admins.job_id}`, undefined, bearer);
    assert.equal(hidden.status, 404);
    await hidden.body?.cancel();
    const hiddenWs = await a.call("GET", `/ws/${admins.job_id}`, undefined, {
      ...bearer,
      upgrade: "websocket",
    });
    assert.equal(hiddenWs.status, 404);
    await hiddenWs.body?.cancel();

    const listed = await (await a.call("GET", "/api/v1/booking/status", undefined, bearer)).json();
    assert.deepEqual(listed.jobs.map((j: Json) => [j.job_id, j.user_id]), [[mine.job_id, user.user.id]]);
    assert.equal(listed.total, 1);
    const all = await (await a.call("GET", "/api/v1/booking/status", undefined, ADMIN)).json();
    assert.deepEqual(all.jobs.map((j: Json) => [j.job_id, j.user_id]), [
      [admins.job_id, "ops"],
      [mine.job_id, user.user.id],
    ]);
  },
);

browserTest(
  "POST /api/v1/booking/stop stops a user's job: status stopped, and its socket gets booking_completed and closes",
  async (pool) => {
    await using a = await servedApp(pool);
    const user = await a.login();
    const bearer = { authorization: `Bearer ${user.access_token}` };
    const mine = await startJob(
      a,
      { license_type: "B", exam_type: "driving", locations: ["Uppsala"] },
      bearer,
    );
    assert.equal(mine.webhook_configured, false);
    const ws = socket(`${a.wsBase}/ws/${mine.job_id}`, bearer);
    await ws.next((m) => m.type === "status_update", "a status update");

    const stop = await a.call("POST", "/api/v1/booking/stop", { job_id: mine.job_id }, bearer);
    assert.equal(stop.status, 200);
    assert.deepEqual(await stop.json(), {
      job_id: mine.job_id,
      status: "stopped",
      message: "Booking stopped",
    });
    const final = await ws.next((m) => m.type === "booking_completed", "booking_completed");
    assert.deepEqual(final, {
      type: "booking_completed",
      job_id: mine.job_id,
      success: false,
      status: "stopped",
      booking_result: null,
      error: null,
    });
    assert.equal(ws.messages.filter((m) => m.type === "status_update").at(-1)!.status, "stopped");
    await ws.closed;
    const job = await (await a.call("GET", `/api/v1/booking/status/${mine.job_id}`, undefined, bearer))
      .json();
    assert.equal(job.status, "stopped");
    assert.equal(job.user_id, user.user.id);
  },
);

browserTest(
  "POST /api/v1/booking/stop answers 404 for another user's job; an admin stops any job",
  async (pool) => {
    await using a = await servedApp(pool);
    const user = await a.login();
    const admins = await startJob(a, { ...BOOKING, user_id: "ops" }, ADMIN);
    const foreignStop = await a.call("POST", "/api/v1/booking/stop", { job_id: admins.job_id }, {
      authorization: `Bearer ${user.access_token}`,
    });
    assert.equal(foreignStop.status, 404);
    await foreignStop.body?.cancel();
    const stopped = await a.call("POST", "/api/v1/booking/stop", { job_id: admins.job_id }, ADMIN);
    assert.equal((await stopped.json()).status, "stopped");
    const [session] = await a.automation.sessions.list();
    assert.equal((await ended(a.automation.sessions, session.id)).status, "cancelled");
  },
);

// A booking job's webhook_url now gets the old server's event_type webhooks (issue 10):
// tests/webhooks_booking_test.ts follows a real job to a receiver written from the seed.

// Seed 003: `curl … -d '{"user_id": …, "license_type": "B", "exam_type": "Körprov", "locations":
// ["Stockholm", "Uppsala"], …}'` with a Bearer token, then the frontend's
// `new WebSocket('ws://your-vps-ip:8080/ws/job_abc123')` (no credentials) showing each qr_update.
browserTest(
  "the seed's own request (exam_type Körprov) books on the demo portal, followed on /ws/{job_id} with no credentials when BOOKING_SOCKET_AUTH=job_id",
  async (pool) => {
    await using a = await servedApp(pool, { BOOKING_SOCKET_AUTH: "job_id" });
    using _ticking = tickClock(a);
    const started = await startJob(a, {
      user_id: "your-user-id",
      license_type: "B",
      exam_type: "Körprov",
      locations: ["Stockholm", "Uppsala"],
    }, { authorization: "Bearer admin-key" });
    const ws = socket(`${a.wsBase}/ws/${started.job_id}`);
    await ws.opened;
    const qr = await ws.next((m) => m.type === "qr_update", "a qr_update");
    assert.equal(qr.job_id, started.job_id);
    assert.match(qr.image_data, /^data:image\/png;base64,/);
    assert.equal(await a.approveQr(), 1);
    const completed = await ws.next((m) => m.type === "booking_completed", "booking_completed");
    assert.equal(completed.success, true, JSON.stringify(completed));
    assert.ok(["Stockholm", "Uppsala"].includes(completed.booking_result.location));
    assert.equal((await ws.closed).code, 1000);

    // The job id is the credential: a tampered one is 404 before the upgrade, and no log line holds it.
    const last = started.job_id.at(-1) === "A" ? "B" : "A";
    const forged = await a.call("GET", `/ws/${started.job_id.slice(0, -1)}${last}`, undefined, {
      upgrade: "websocket",
    });
    assert.equal(forged.status, 404);
    await forged.body?.cancel();
    assert.ok(!a.log.lines.join("\n").includes(started.job_id), "job ids stay out of the logs");
  },
);
