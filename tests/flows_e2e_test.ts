/**
 * The three real flows end to end through the real session API (REST long-poll, SSE, WebSocket with a
 * re-attach) and real Chromium, driving the demo portal served by the same server. Each test has its own
 * browser pool, database and app (browserTest), with sanitizers on.
 */
import assert from "node:assert/strict";
import {
  BOOKING_FLOW_STATUSES,
  browserTest,
  dedupe,
  DEMO_LOGIN,
  fromBase64,
  isPng,
  type Json,
  readSse,
  servedApp,
  socket,
  tickClock,
} from "./e2e_fixtures.ts";

const ADMIN = { "x-api-key": "admin-key" };
const FINAL = ["succeeded", "failed", "cancelled", "expired"];

browserTest(
  "vehicle-lookup ABC123 over REST long-polling: the SMS code from the demo, data items, photos",
  async (pool) => {
    await using a = await servedApp(pool);
    const res = await a.call("POST", "/api/v1/sessions", {
      flow: "vehicle-lookup",
      input: { plate: "abc-123" },
    }, ADMIN);
    assert.equal(res.status, 201);
    assert.match(res.headers.get("content-type")!, /application\/json/);
    const created = await res.json();
    const poll = async (after: number) => {
      const r = await a.call(
        "GET",
        `/api/v1/sessions/${created.id}?wait=20&after=${after}`,
        undefined,
        ADMIN,
      );
      assert.equal(r.status, 200);
      return await r.json() as Json;
    };

    let s: Json = created;
    while (!s.prompt && !FINAL.includes(s.status)) s = await poll(s.seq);
    assert.equal(s.status, "waiting", s.error);
    assert.equal(s.prompt.kind, "code");
    assert.equal(s.prompt.message, "We sent a code to +36 20 *** 4567");
    const { sms } = await a.debug();
    assert.equal(sms.length, 1);
    const answer = await a.call("POST", `/api/v1/sessions/${created.id}/input`, {
      prompt: s.prompt.id,
      value: sms[0].code,
    }, ADMIN);
    assert.equal(answer.status, 202);
    await answer.body?.cancel();

    while (!FINAL.includes(s.status)) s = await poll(s.seq);
    assert.equal(s.status, "succeeded", s.error);
    assert.equal(s.data.brand, "BENTLEY");
    assert.equal(s.data.vin, "SCBFF63W3EC012345");
    assert.equal(s.result.plate, "ABC123");
    assert.equal(s.result.specs.brand, "BENTLEY");
    assert.deepEqual(s.result.photos, ["photo-1.png", "photo-2.png", "photo-3.png"]);

    const list = await (await a.call("GET", `/api/v1/sessions/${created.id}/artifacts`, undefined, ADMIN))
      .json();
    assert.deepEqual(list.artifacts.map((x: Json) => [x.name, x.content_type]), [
      ["photo-1.png", "image/png"],
      ["photo-2.png", "image/png"],
      ["photo-3.png", "image/png"],
    ]);
    const photo = await a.call(
      "GET",
      `/api/v1/sessions/${created.id}/artifacts/photo-1.png`,
      undefined,
      ADMIN,
    );
    assert.equal(photo.status, 200);
    assert.equal(photo.headers.get("content-type"), "image/png");
    assert.ok(isPng(new Uint8Array(await photo.arrayBuffer())));
    assert.equal(pool.openContexts, 0);
  },
);

browserTest(
  "api-access over SSE with answers over REST: a wrong captcha is asked again with a new image, then API access is enabled",
  async (pool) => {
    await using a = await servedApp(pool);
    const created = await (await a.call("POST", "/api/v1/sessions", { flow: "api-access", input: {} }, ADMIN))
      .json();
    const res = await a.call("GET", `/api/v1/sessions/${created.id}/events`, undefined, {
      ...ADMIN,
      accept: "text/event-stream",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const seen: { id?: string; event: string; data: Json }[] = [];
    const prompts: Json[] = [];
    const images = new Map<string, string>();
    await readSse(res, async (e) => {
      seen.push(e);
      if (e.event === "image") images.set(e.data.prompt, e.data.image);
      if (e.event !== "prompt") return;
      const prompt = e.data.prompt;
      prompts.push(prompt);
      const view = await (await a.call("GET", `/api/v1/sessions/${created.id}`, undefined, ADMIN)).json();
      assert.ok(isPng(fromBase64(view.prompt.image)), "the captcha is a PNG");
      images.set(`${prompt.id}:view`, view.prompt.image);
      const captcha = (await a.debug()).captchas.at(-1)!.answer;
      // Every captcha asks for the credentials again ("1" is not in the captcha alphabet).
      const value = { captcha: prompts.length === 1 ? "11111" : captcha.toLowerCase(), ...DEMO_LOGIN };
      const r = await a.call(
        "POST",
        `/api/v1/sessions/${created.id}/input`,
        { prompt: prompt.id, value },
        ADMIN,
      );
      assert.equal(r.status, 202);
      await r.body?.cancel();
    });

    assert.deepEqual(prompts.map((p) => [p.kind, p.error, p.fields.map((f: Json) => f.name)]), [
      ["captcha", undefined, ["captcha", "username", "password"]],
      ["captcha", "Invalid captcha", ["captcha", "username", "password"]],
    ]);
    assert.notEqual(
      images.get(`${prompts[0].id}:view`),
      images.get(`${prompts[1].id}:view`),
      "a new captcha after the failure",
    );
    assert.ok(images.has(prompts[0].id), "live followers get the captcha image");
    assert.deepEqual(seen.map((e) => e.event).filter((t) => t !== "image").slice(-2), [
      "result",
      "status",
    ]);
    const stored = seen.filter((e) => e.event !== "image");
    assert.deepEqual(stored.map((e) => Number(e.id)), stored.map((_, i) => i + 1), "ids are the seq");
    const result = seen.find((e) => e.event === "result")!.data.result;
    assert.equal(result.message, "API access enabled for demo");
    assert.match(result.reference, /^GST-\d{10}$/);
    assert.equal(seen.at(-1)!.data.status, "succeeded");
  },
);

browserTest(
  "exam-booking over WebSocket: the QR streams, the client drops mid-QR and re-attaches with after=SEQ, BankID approves, a slot is booked",
  async (pool) => {
    await using a = await servedApp(pool);
    using _ticking = tickClock(a);
    const created = await (await a.call("POST", "/api/v1/sessions", {
      flow: "exam-booking",
      input: { license_type: "B", exam_type: "driving", locations: ["Stockholm", "Göteborg"] },
    }, ADMIN)).json();
    const first = socket(created.ws_url.replace("ws://localhost", a.wsBase));
    const prompt = await first.next((m) => m.type === "prompt", "the QR prompt");
    assert.equal(prompt.prompt.kind, "qr");
    assert.equal(prompt.prompt.message, "Scan the QR code with BankID");
    await first.next((m) => m.type === "image", "a QR frame");
    await first.close(); // the client drops mid-QR; the session goes on
    const seenSeq = Math.max(...first.messages.filter((m) => m.type !== "image").map((m) => m.seq));
    assert.deepEqual(
      first.messages.filter((m) => m.type !== "image").map((m) => m.seq),
      Array.from({ length: seenSeq }, (_, i) => i + 1),
    );

    const second = socket(`${a.wsBase}/api/v1/sessions/${created.id}/ws?after=${seenSeq}`, ADMIN);
    const frames = () => [...first.messages, ...second.messages].filter((m) => m.type === "image");
    const distinct = () => new Set(frames().map((f) => f.image)).size;
    await second.next(() => frames().length >= 3 && distinct() >= 2, "three QR frames, two different");
    assert.equal(await a.approveQr(), 1);
    const result = await second.next((m) => m.type === "result", "the booking result");
    const end = await second.closed;
    assert.equal(end.code, 1000);

    const stored = second.messages.filter((m) => m.type !== "image");
    assert.deepEqual(
      stored.map((m) => m.seq),
      stored.map((_, i) => seenSeq + 1 + i),
      "the re-attached socket gets every event after SEQ, no gap, no repeat",
    );
    assert.equal(stored.at(-1)!.status, "succeeded");
    const all = [...first.messages, ...second.messages];
    assert.deepEqual(
      dedupe(all.filter((m) => m.type === "progress" && m.key === "status").map((m) => m.value)),
      BOOKING_FLOW_STATUSES,
    );
    assert.ok(frames().every((f) => f.image.startsWith("data:image/png;base64,")));

    // The demo's earliest slot across Stockholm (days 2, 4, 9) and Göteborg (1, 5, 8) is in Göteborg on
    // the day after the fake clock's start (2026-01-01, a few seconds in).
    assert.match(result.result.booking_id, /^TV\d{9}$/);
    assert.deepEqual({ ...result.result, booking_id: "" }, {
      booking_id: "",
      location: "Göteborg",
      date: "2026-01-02",
      time: "13:40",
    });
    const view = await (await a.call("GET", `/api/v1/sessions/${created.id}`, undefined, ADMIN)).json();
    assert.equal(view.status, "succeeded");
    assert.equal(view.prompt, null);
    assert.equal(pool.openContexts, 0);
  },
);
