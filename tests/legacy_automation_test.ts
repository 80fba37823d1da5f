/**
 * The legacy automation clients end to end, with the real flows in real Chromium against the demo portal
 * served by the same server: the vehicle-lookup mobile app's /ws/legacy, the tax-portal client's
 * /captcha/ + /enable_api/:token, and the booking frontend's /api/v1/booking/… + /ws/:job_id. One browser
 * pool for the file; sanitizers on for the enclosing test, off for its steps (the browser spans them).
 */
import assert from "node:assert/strict";
import {
  automationArtifacts,
  automationEvents,
  automationSessions,
  legacyBookingJobs,
} from "../db/schema.ts";
import { testPool, waitFor } from "./automation_fixtures.ts";
import {
  BOOKING_FLOW_STATUSES,
  dedupe,
  fromBase64,
  isPng,
  type Json,
  servedApp,
  socket,
  tickClock,
} from "./e2e_fixtures.ts";
import { problem } from "./helpers.ts";

const ADMIN = { "x-api-key": "admin-key" };
const BEARER_ADMIN = { authorization: "Bearer admin-key" };

Deno.test("legacy automation clients with the real flows", async (t) => {
  const pool = testPool();
  const spec = (name: string, fn: () => Promise<void>) =>
    t.step({ name, fn, sanitizeOps: false, sanitizeResources: false });
  try {
    await spec(
      "GET /ws/legacy answers 401 before the upgrade without a valid key and 426 without an upgrade; GET /ws still starts sessions",
      async () => {
        await using a = await servedApp(pool);
        for (const headers of [{}, { "x-api-key": "wrong" }] as Record<string, string>[]) {
          const res = await a.call("GET", "/ws/legacy", undefined, { upgrade: "websocket", ...headers });
          assert.equal(res.status, 401);
          assert.equal((await problem(res)).detail, "A valid API key or Bearer access token is required");
        }
        const plain = await a.call("GET", "/ws/legacy", undefined, ADMIN);
        assert.equal(plain.status, 426);
        await plain.body?.cancel();
        const notJob = await a.call("GET", "/ws/not-a-job", undefined, { ...ADMIN, upgrade: "websocket" });
        assert.equal(notJob.status, 404, "/ws/<anything but a session id> is no job socket");
        await notJob.body?.cancel();
        // /ws (start a session with the first message) is the session API's, not a booking job's socket.
        const start = socket(`${a.wsBase}/ws`, ADMIN);
        await start.opened;
        start.send({ type: "start", flow: "api-access", input: {} });
        const status = await start.next((m) => m.type === "status", "the session's first status");
        assert.equal(status.status, "queued");
        start.send({ type: "cancel" });
        await start.closed;
      },
    );

    await spec(
      "GET /ws/legacy looks up ABC123 (pending items, waiting for the code, again after a wrong one, success), then ZZZ999 fails on the same socket; closing it cancels a lookup",
      async () => {
        await using a = await servedApp(pool);
        const app = socket(`${a.wsBase}/ws/legacy`, ADMIN);
        await app.opened;
        app.send("abc 123");
        const waiting = await app.next((m) => m.status === "waiting", "the 2FA request");
        assert.deepEqual(waiting, {
          status: "waiting",
          percentage: 100,
          key: "input",
          value: "We sent a code to +36 20 *** 4567",
        });
        app.send("000000");
        const again = await app.next((m) => m.status === "waiting" && m !== waiting, "the 2FA request again");
        assert.equal(again.value, "Invalid code. We sent a code to +36 20 *** 4567");
        app.send((await a.debug()).sms.at(-1)!.code);
        const success = await app.next((m) => m.status === "success", "success");
        assert.deepEqual(success, { status: "success", percentage: 100, key: "message" });

        const pending = app.messages.filter((m) => m.status === "pending");
        assert.ok(
          pending.every((m) =>
            Object.keys(m).join() === "status,percentage,key,value" && m.percentage >= 0 && m.percentage < 100
          ),
        );
        assert.deepEqual(pending.find((m) => m.key === "brand"), {
          status: "pending",
          percentage: pending.find((m) => m.key === "brand")!.percentage,
          key: "brand",
          value: "BENTLEY",
        });
        assert.equal(pending.find((m) => m.key === "vin")?.value, "SCBFF63W3EC012345");
        assert.equal(pending.find((m) => m.key === "2022-05-30")?.value, "129870");
        assert.equal(pending.length, 4 + 7 + 4 + 1, "every data item of ABC123");
        const pcts = pending.map((m) => m.percentage);
        assert.deepEqual(pcts, [...pcts].sort((x, y) => x - y));
        assert.equal(app.messages.at(-1), success, "success is the last message of the lookup");

        // The socket takes the next lookup.
        const before = app.messages.length;
        app.send("ZZZ999");
        await app.next((m) => m.status === "waiting" && app.messages.indexOf(m) >= before, "the 2FA request");
        app.send((await a.debug()).sms.at(-1)!.code);
        const fail = await app.next((m) => m.status === "fail", "the failure");
        assert.deepEqual(fail, {
          status: "fail",
          percentage: 100,
          key: "message",
          value: "No vehicle found with plate ZZZ999",
        });
        assert.equal(app.messages.slice(before).filter((m) => m.status === "pending").length, 0);

        const sessions = await a.automation.sessions.list({ owner: "admin" });
        assert.deepEqual(sessions.map((s) => [s.flow, s.status]).sort(), [
          ["vehicle-lookup", "failed"],
          ["vehicle-lookup", "succeeded"],
        ]);
        const dump = JSON.stringify(await a.db.db.select().from(automationEvents));
        assert.ok(!dump.includes((await a.debug()).sms.at(-1)!.code), "the SMS code is not stored");

        // Closing the socket mid-lookup cancels the lookup: a legacy client cannot re-attach to answer it.
        const third = app.messages.length;
        app.send("XYZ789");
        await app.next((m) => m.status === "waiting" && app.messages.indexOf(m) >= third, "the 2FA request");
        const [waiting3] = await a.automation.sessions.list({ owner: "admin", status: ["waiting"] });
        assert.equal(waiting3.flow, "vehicle-lookup");
        await app.close();
        const ended = await waitFor(async () => {
          const s = await a.automation.sessions.get(waiting3.id);
          return s.status === "cancelled" && s;
        }, "the lookup to be cancelled after the socket closed");
        assert.equal(ended.prompt, null);
        await waitFor(() => pool.openContexts === 0, "its browser context to close");
      },
    );

    await spec(
      "GET /ws/legacy refuses a bad plate with fail, and fails clearly (cancelling the lookup) when the registry asks for credentials",
      async () => {
        await using a = await servedApp(pool, { FLOW_SECRETS: "{}" });
        const app = socket(`${a.wsBase}/ws/legacy`, BEARER_ADMIN);
        await app.opened;
        app.send("!");
        const bad = await app.next((m) => m.status === "fail", "the refusal");
        assert.equal(bad.percentage, 100);
        assert.equal(bad.key, "message");
        assert.match(bad.value, /^The input does not fit the flow vehicle-lookup: A plate is 2–10 letters/);

        // Without server-side credentials the registry asks for them, which this protocol cannot carry.
        app.send("ABC123");
        const fail = await app.next((m) => m.status === "fail" && m !== bad, "the credentials failure");
        assert.equal(
          fail.value,
          "The vehicle registry asks for credentials, which this client cannot answer; " +
            "the server needs FLOW_SECRETS for vehicle-lookup",
        );
        const [asked] = await a.automation.sessions.list({ owner: "admin" });
        const ended = await waitFor(async () => {
          const s = await a.automation.sessions.get(asked.id);
          return s.status === "cancelled" && s;
        }, "the lookup to be cancelled");
        assert.equal(ended.data.brand, undefined);
        await app.close();
      },
    );

    await spec(
      "GET /captcha/ + PUT /enable_api/:token: 400 with a new captcha and the same token for a refused login, 200 once right, then 404; the password is never stored or logged",
      async () => {
        await using a = await servedApp(pool, { LOG_LEVEL: "debug" });
        const anon = await a.call("GET", "/captcha/");
        assert.equal(anon.status, 401);
        await anon.body?.cancel();

        const res = await a.call("GET", "/captcha/", undefined, ADMIN);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type")!, /application\/json/);
        const first = await res.json();
        assert.deepEqual(Object.keys(first), ["message", "errors", "data"]);
        assert.equal(first.message, "Token generated");
        assert.deepEqual(first.errors, []);
        assert.deepEqual(Object.keys(first.data).sort(), ["captcha_base64", "token", "ts"]);
        const token = first.data.token;
        assert.ok(
          isPng(fromBase64(first.data.captcha_base64)),
          "captcha_base64 is a PNG without a data: prefix",
        );
        assert.doesNotMatch(first.data.captcha_base64, /^data:/);
        assert.equal(first.data.ts, Math.floor(a.clock.now().getTime() / 1000), "ts is unix seconds");
        const before = await a.automation.sessions.get(token);
        assert.equal(before.flow, "api-access");

        // The right captcha with a wrong password: refused by the portal, a new captcha, same token.
        const secret = "wr0ng-pa55word-never-stored";
        const enable = (body: Json, headers: Record<string, string> = ADMIN) =>
          a.call("PUT", `/enable_api/${token}`, body, headers);
        const captcha = async () => (await a.debug()).captchas.at(-1)!.answer;
        const r1 = await enable({ username: "demo", password: secret, captcha: await captcha() });
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
          "the session lives SESSION_PROMPT_TIMEOUT_S longer",
        );

        // A wrong captcha: 400 again, with the portal's reason. A second PUT while the first is being
        // handled is refused (409) rather than answering the next captcha with a stale one.
        const [r2, parallel] = await Promise.all([
          enable({ username: "demo", password: "demo", captcha: "11111" }),
          enable({ username: "demo", password: "demo", captcha: "22222" }),
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
        assert.notEqual(b2.data.captcha_base64, b1.data.captcha_base64);

        // Another caller's token does not exist for them; a body without the captcha is a 422 problem.
        const user = await a.login();
        const foreign = await enable({ username: "demo", password: "demo", captcha: "X" }, {
          authorization: `Bearer ${user.access_token}`,
        });
        assert.equal(foreign.status, 404);
        assert.deepEqual(await foreign.json(), {
          message: "Token not found",
          errors: ["Token not found"],
          data: { token },
        });
        const shape = await enable({ username: "demo", password: "demo" });
        assert.equal(shape.status, 422);
        assert.deepEqual(((await problem(shape)).errors as Json[]).map((e) => e.field), ["captcha"]);

        const r3 = await enable({
          username: "demo",
          password: "demo",
          captcha: (await captcha()).toLowerCase(),
        });
        assert.equal(r3.status, 200);
        assert.deepEqual(await r3.json(), { message: "API access enabled", errors: [], data: { token } });
        const done = await a.automation.sessions.get(token);
        assert.equal(done.status, "succeeded");
        assert.equal((done.result as Json).message, "API access enabled for demo");

        const again = await enable({ username: "demo", password: "demo", captcha: "ABCDE" });
        assert.equal(again.status, 404, "the token ends with the enable call");
        assert.equal((await again.json()).message, "Token not found");
        const unknown = await a.call("PUT", "/enable_api/no-such-token", {
          username: "u",
          password: "p",
          captcha: "c",
        }, ADMIN);
        assert.equal(unknown.status, 404);
        assert.deepEqual(await unknown.json(), {
          message: "Token not found",
          errors: ["Token not found"],
          data: { token: "no-such-token" },
        });

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
      },
    );

    await spec(
      "PUT /enable_api/:token answers 500 naming the step when the portal session expired while the captcha was read",
      async () => {
        await using a = await servedApp(pool, { SESSION_PROMPT_TIMEOUT_S: "600" });
        const first = await (await a.call("GET", "/captcha", undefined, BEARER_ADMIN)).json();
        const token = first.data.token;
        a.clock.advance(4 * 60_000 + 1_000); // the tax portal's 4-minute session
        const answer = (await a.debug()).captchas.at(-1)!.answer;
        const res = await a.call("PUT", `/enable_api/${token}`, {
          username: "demo",
          password: "demo",
          captcha: answer,
        }, BEARER_ADMIN);
        assert.equal(res.status, 500);
        assert.match(res.headers.get("content-type")!, /application\/json/);
        assert.deepEqual(await res.json(), {
          message: "Step failed on login",
          errors: ["The tax portal session expired: Session expired"],
          data: { token },
        });
        const gone = await a.call("PUT", `/enable_api/${token}`, {
          username: "demo",
          password: "demo",
          captcha: answer,
        }, BEARER_ADMIN);
        assert.equal(gone.status, 404);
        await gone.body?.cancel();
      },
    );

    await spec(
      "the booking API: start → QR poll → WS qr_update at ≥ 1/s and status updates → approve → completed with the booking result",
      async () => {
        await using a = await servedApp(pool);
        using _ticking = tickClock(a);
        const body = {
          user_id: "user_123",
          license_type: "B",
          exam_type: "driving",
          locations: ["Stockholm", "Göteborg"],
        };
        const anon = await a.call("POST", "/api/v1/booking/start", body);
        assert.equal(anon.status, 401);
        await anon.body?.cancel();
        const bad = await a.call("POST", "/api/v1/booking/start", { ...body, locations: [] }, BEARER_ADMIN);
        assert.equal(bad.status, 422);
        assert.deepEqual(((await problem(bad)).errors as Json[]).map((e) => e.field), ["locations"]);
        const noUser = await a.call(
          "POST",
          "/api/v1/booking/start",
          { ...body, user_id: undefined },
          BEARER_ADMIN,
        );
        assert.equal(noUser.status, 422);
        assert.deepEqual(((await problem(noUser)).errors as Json[]).map((e) => e.field), ["user_id"]);

        const res = await a.call("POST", "/api/v1/booking/start", body, BEARER_ADMIN);
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
        const ws = socket(`${a.wsBase}${started.websocket_url}?token=admin-key`);
        await ws.opened;

        const qr: Json = await waitFor(
          async () => {
            const r = await a.call("GET", started.qr_polling_url, undefined, BEARER_ADMIN);
            if (r.status === 404) {
              await problem(r); // no QR up yet
              return false;
            }
            assert.equal(r.status, 200);
            assert.match(r.headers.get("content-type")!, /application\/json/);
            return await r.json();
          },
          "the QR over HTTP polling",
          30_000,
        );
        assert.deepEqual(Object.keys(qr), ["type", "job_id", "image_data", "timestamp"]);
        assert.equal(qr.type, "qr_update");
        assert.equal(qr.job_id, jobId);
        assert.match(qr.image_data, /^data:image\/png;base64,/);
        assert.ok(isPng(fromBase64(qr.image_data)));
        assert.ok(!Number.isNaN(Date.parse(qr.timestamp)));

        const updates = () => ws.messages.filter((m) => m.type === "qr_update");
        await ws.next(
          () => updates().length >= 3 && new Set(updates().map((m) => m.image_data)).size >= 2,
          "three QR updates, two different",
        );
        const approvedAt = performance.now();
        assert.equal(await a.approveQr(), 1);
        const completed = await ws.next((m) => m.type === "booking_completed", "booking_completed");
        assert.equal((await ws.closed).code, 1000, "the server closes the socket when the job ends");

        const frames = ws.messages.map((m, i) => ({ m, at: ws.arrivals[i] }))
          .filter(({ m, at }) => m.type === "qr_update" && at <= approvedAt);
        assert.ok(frames.every(({ m }) => Object.keys(m).join() === "type,job_id,image_data,timestamp"));
        const gaps = frames.slice(1).map(({ at }, i) => at - frames[i].at);
        assert.ok(
          Math.max(...gaps) < 1000,
          `gaps between qr_update messages: ${gaps.map(Math.round).join(", ")} ms`,
        );

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
          job_id: jobId,
          status: "completed",
          message: "Booking completed",
          progress: 100,
          timestamp: statuses.at(-1)!.timestamp,
        });
        const booking = {
          booking_id: completed.booking_result.booking_id,
          exam_date: "2026-01-02",
          exam_time: "13:40",
          location: "Göteborg",
        };
        assert.match(booking.booking_id, /^TV\d{9}$/);
        assert.deepEqual(completed, {
          type: "booking_completed",
          job_id: jobId,
          success: true,
          status: "completed",
          booking_result: booking,
          error: null,
        });

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

    await spec(
      "POST /api/v1/booking/stop stops a user's job (status stopped, WS told); users list and see only their own jobs",
      async () => {
        await using a = await servedApp(pool);
        const user = await a.login();
        const bearer = { authorization: `Bearer ${user.access_token}` };
        const body = { license_type: "B", exam_type: "driving", locations: ["Uppsala"] };
        const foreignId = await a.call(
          "POST",
          "/api/v1/booking/start",
          { ...body, user_id: "someone-else" },
          bearer,
        );
        assert.equal(foreignId.status, 403);
        await foreignId.body?.cancel();
        const mine = await (await a.call("POST", "/api/v1/booking/start", body, bearer)).json();
        a.clock.advance(1000); // lists are newest first
        const hooks: Json[] = [];
        await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
          hooks.push(await req.json());
          return new Response(null, { status: 204 });
        });
        const admins = await (await a.call("POST", "/api/v1/booking/start", {
          ...body,
          user_id: "ops",
          webhook_url: `http://127.0.0.1:${hook.addr.port}/booking-webhook`,
        }, ADMIN)).json();
        assert.equal(admins.webhook_configured, true);
        assert.equal(mine.webhook_configured, false);

        const ws = socket(`${a.wsBase}/ws/${mine.job_id}`, bearer);
        await ws.next((m) => m.type === "status_update", "a status update");
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
        const foreignStop = await a.call("POST", "/api/v1/booking/stop", { job_id: admins.job_id }, bearer);
        assert.equal(foreignStop.status, 404);
        await foreignStop.body?.cancel();
        const stopped = await a.call("POST", "/api/v1/booking/stop", { job_id: admins.job_id }, ADMIN);
        assert.equal((await stopped.json()).status, "stopped");
        // The job's webhook_url gets the session's webhooks (gatehouse's format, not the old event_type one).
        await waitFor(() => hooks.some((h) => h.type === "session.finished"), "the finish webhook");
        assert.equal(hooks[0].type, "session.created");
        assert.ok(hooks.every((h) => h.data.session_id === admins.job_id));
        assert.equal(hooks.at(-1)!.data.status, "cancelled");
        await waitFor(() => pool.openContexts === 0, "the jobs' browser contexts to close");
      },
    );
  } finally {
    await pool.close();
  }
  assert.equal(pool.openContexts, 0);
});
