/**
 * cluster: two real server processes (`deno run -A src/main.ts`) on one Postgres behave as one service:
 * follow and answer anywhere, one queue, logout everywhere, shared OTP limits, and a graceful SIGTERM.
 */
import assert from "node:assert/strict";
import {
  freePort,
  freshDatabase,
  openSocket,
  readSse,
  type ServerProcess,
  smsRecorder,
  startServer,
  until,
} from "./cluster_processes.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const DATABASE_URL = Deno.env.get("DATABASE_URL") ?? "";
const ON_POSTGRES = /^postgres(ql)?:\/\//.test(DATABASE_URL);
const ADMIN = { "x-api-key": "admin-key" };

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...("authorization" in headers ? {} : ADMIN),
      ...headers,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null as Json };
}

Deno.test({
  name: ON_POSTGRES
    ? "two server processes on one Postgres behave as one service"
    : "two server processes on one Postgres behave as one service (ignored: needs DATABASE_URL=postgres://…; " +
      "PGlite is embedded in one process)",
  ignore: !ON_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using db = await freshDatabase(DATABASE_URL);
    await using sms = smsRecorder();
    const env = {
      ENV: "development",
      DATABASE_URL: db.url,
      DATA_DIR: await Deno.makeTempDir({ prefix: "gh2p_" }),
      JWT_SECRET: "two-process-secret-two-process-secret-0123",
      API_KEYS: "admin-key",
      DEMO_PORTAL: "true",
      MAX_SESSIONS: "1",
      MAX_QUEUE: "4",
      SMS_PROVIDER: "http",
      SMS_WEBHOOK_URL: sms.url,
      LOG_LEVEL: "warn",
      SHUTDOWN_GRACE_S: "10",
    };
    // A first, so it migrates the fresh database alone
    await using a = await startServer(freePort(), env);
    await using b = await startServer(freePort(), env);
    const servers = [a, b];
    const other = (s: ServerProcess) => (s === a ? b : a);
    /** The instance running `id`: the one whose demo portal sent the flow's 2FA code. */
    const runnerOf = (smsBefore: Map<ServerProcess, number>) =>
      until(async () => {
        for (const s of servers) {
          const debug = await (await fetch(`${s.base}/demo/_debug`)).json();
          if (debug.sms.length > (smsBefore.get(s) ?? 0)) {
            return { runner: s, code: debug.sms.at(-1).code as string };
          }
        }
        return undefined;
      }, "a flow to reach its SMS code");
    const smsCounts = async () =>
      new Map(
        await Promise.all(servers.map(async (s) =>
          [s, (await (await fetch(`${s.base}/demo/_debug`)).json()).sms.length] as [ServerProcess, number]
        )),
      );

    await t.step(
      "a session started on A is followed over SSE and WebSocket on B and answered on B",
      async () => {
        const before = await smsCounts();
        const started = await call(a.base, "POST", "/api/v1/sessions", {
          flow: "vehicle-lookup",
          input: { plate: "ABC123" },
        });
        assert.equal(started.status, 201);
        const id = started.body.id;
        const { runner, code } = await runnerOf(before);
        const follower = other(runner); // placement may have put it on either: follow and answer on the other
        const sse = readSse(
          await fetch(`${follower.base}/api/v1/sessions/${id}/events`, {
            headers: { ...ADMIN, accept: "text/event-stream" },
          }),
        );
        const socket = openSocket(`${follower.base.replace("http", "ws")}/api/v1/sessions/${id}/ws`, ADMIN);
        await socket.opened;
        let view: Json = (await call(follower.base, "GET", `/api/v1/sessions/${id}`)).body;
        while (view.prompt?.kind !== "code") {
          view = (await call(follower.base, "GET", `/api/v1/sessions/${id}?wait=10&after=${view.seq}`)).body;
        }
        const answered = await call(follower.base, "POST", `/api/v1/sessions/${id}/input`, {
          prompt: view.prompt.id,
          value: code,
        });
        assert.equal(answered.status, 202);
        await sse.done;
        const close = await socket.closed;
        assert.equal(close.code, 1000);
        const last = (events: { type?: unknown; status?: unknown }[]) =>
          events.filter((e) => e.type === "status").at(-1);
        assert.equal(last(sse.events.map((e) => ({ ...e.data })))?.status, "succeeded");
        assert.equal(last(socket.messages)?.status, "succeeded");
        assert.ok(sse.events.some((e) => e.event === "prompt"), "the prompt reached B's SSE follower");
        assert.ok(socket.messages.some((m) => m.type === "answer"), "the answer reached B's socket follower");
      },
    );

    const held: string[] = [];
    await t.step("a session queued while A is full runs on B; a third waits in the one queue", async () => {
      for (let i = 0; i < 2; i++) {
        const before = await smsCounts();
        const s = await call(a.base, "POST", "/api/v1/sessions", {
          flow: "vehicle-lookup",
          input: { plate: "ABC123" },
        });
        assert.equal(s.status, 201);
        held.push(s.body.id);
        await runnerOf(before); // it reached its code prompt and waits there, holding its instance's only slot
      }
      // each reached its code prompt and holds its instance's only slot: one session per instance
      for (const id of held) {
        await until(
          async () => (await call(b.base, "GET", `/api/v1/sessions/${id}`)).body.status === "waiting",
          "the prompt",
        );
      }
      const third = await call(a.base, "POST", "/api/v1/sessions", {
        flow: "vehicle-lookup",
        input: { plate: "XYZ9" },
      });
      assert.equal(third.status, 201);
      assert.equal(third.body.status, "queued");
      const seen = await call(b.base, "GET", `/api/v1/sessions/${third.body.id}`);
      assert.equal(seen.body.queue_position, 1, "B sees A's queued session's place in the one queue");
      held.push(third.body.id);
    });

    await t.step("logout on A makes B refuse the token and close B's open socket within 1 s", async () => {
      const phone = "+36201234567";
      assert.equal((await call(a.base, "POST", "/api/v1/otp/request", { phone })).status, 202);
      const login = await call(b.base, "POST", "/api/v1/otp/verify", {
        phone,
        code: await sms.codeFor(phone),
      });
      assert.equal(login.status, 200);
      const bearer = { authorization: `Bearer ${login.body.access_token}` };
      assert.equal((await call(b.base, "GET", "/api/v1/me", undefined, bearer)).status, 200);
      const socket = openSocket(`${b.base.replace("http", "ws")}/ws`, bearer);
      await socket.opened;
      const out = await call(a.base, "POST", "/api/v1/auth/logout", {}, bearer);
      assert.ok(out.status < 300, `logout: ${out.status}`);
      const loggedOutAt = performance.now();
      // a generous bound around the wait; the assertion is the one second
      const close = await Promise.race([
        socket.closed,
        new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
      ]);
      const elapsed = performance.now() - loggedOutAt;
      assert.ok(close, "B's socket closed");
      assert.equal(close.code, 4401);
      assert.ok(elapsed <= 1000, `B closed the socket ${Math.round(elapsed)} ms after the logout on A`);
      assert.equal((await call(b.base, "GET", "/api/v1/me", undefined, bearer)).status, 401);
    });

    await t.step("OTP limits hold when requests alternate between A and B", async () => {
      const phone = "+36201112233";
      assert.equal((await call(a.base, "POST", "/api/v1/otp/request", { phone })).status, 202);
      assert.equal(
        (await call(b.base, "POST", "/api/v1/otp/request", { phone })).status,
        429,
        "resend cooldown",
      );
      const code = await sms.codeFor(phone);
      const wrong = code === "000000" ? "111111" : "000000";
      for (let i = 0; i < 5; i++) {
        const res = await call(servers[i % 2].base, "POST", "/api/v1/otp/verify", { phone, code: wrong });
        assert.equal(res.status, 401);
      }
      const late = await call(b.base, "POST", "/api/v1/otp/verify", { phone, code });
      assert.notEqual(late.status, 200, "five wrong tries over both instances burned the code");
    });

    await t.step(
      "SIGTERM to A under load: no accepted request is reset; A's followers re-attach on B",
      async () => {
        // followers on A of the two held sessions (one runs on A, one on B)
        const followers = await Promise.all(
          held.slice(0, 2).map(async (id) => {
            const seq = (await call(a.base, "GET", `/api/v1/sessions/${id}`)).body.seq;
            const sse = readSse(
              await fetch(`${a.base}/api/v1/sessions/${id}/events?after=${seq}`, {
                headers: { ...ADMIN, accept: "text/event-stream" },
              }),
            );
            const socket = openSocket(
              `${a.base.replace("http", "ws")}/api/v1/sessions/${id}/ws?after=${seq}`,
              ADMIN,
            );
            await socket.opened;
            return { id, seq, sse, socket };
          }),
        );
        // a small load: long-polls accepted and waiting (the in-flight requests), and short requests on fresh
        // connections throughout the shutdown
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        const polls = [...held.slice(0, 2), ...held.slice(0, 2)].map((id, i) =>
          fetch(`${a.base}/api/v1/sessions/${id}?wait=30&after=${followers[i % 2].seq}`, {
            headers: ADMIN,
            client,
          })
            .then(async (r) => `${r.status} ${(await r.json()).id === id}`, (e) => `${e} ${e.cause ?? ""}`)
        );
        const outcomes: string[] = [];
        let loading = true;
        const load = Array.from({ length: 4 }, async () => {
          while (loading) {
            let res: Response;
            try {
              res = await fetch(`${a.base}/health`, { client });
            } catch {
              outcomes.push("not accepted"); // refused or closed before any answer: the client may retry
              continue;
            }
            // an answer that starts must finish: a cut body is a reset of an accepted request
            outcomes.push(await res.json().then((b) => `${res.status} ${b.status}`, (e) => `cut: ${e}`));
          }
        });
        await new Promise((r) => setTimeout(r, 500));
        const exit = await a.stop("SIGTERM");
        loading = false;
        await Promise.all(load);
        client.close();
        assert.equal(exit, 0, "A stopped cleanly");
        assert.deepEqual(
          await Promise.all(polls),
          Array(4).fill("200 true"),
          "the long-polls in flight were answered",
        );
        const cut = outcomes.filter((o) => o.startsWith("cut"));
        assert.deepEqual(cut, [], "no answer was cut off");
        assert.ok(outcomes.includes("200 ok"), "the load was served until the shutdown");
        for (const f of followers) {
          assert.equal((await f.socket.closed).code, 1001, "A's sockets went away with 1001");
          await f.sse.done;
        }
        // re-attach on B after the last seq each follower saw; each session ends there (A's one as interrupted)
        const ends: string[] = [];
        for (const f of followers) {
          const seen = Math.max(f.seq, ...f.socket.messages.map((m) => Number(m.seq ?? 0)));
          const socket = openSocket(
            `${b.base.replace("http", "ws")}/api/v1/sessions/${f.id}/ws?after=${seen}`,
            ADMIN,
          );
          await socket.opened;
          const view = (await call(b.base, "GET", `/api/v1/sessions/${f.id}`)).body;
          if (view.status === "waiting") await call(b.base, "DELETE", `/api/v1/sessions/${f.id}`);
          await socket.closed;
          const end = socket.messages.filter((m) => m.type === "status").at(-1) as Json;
          assert.ok(["failed", "cancelled"].includes(end?.status), JSON.stringify(socket.messages));
          if (end.status === "failed") assert.match(end.error, /interrupted/i);
          ends.push(end.status);
        }
        assert.deepEqual(
          ends.sort(),
          ["cancelled", "failed"],
          "A's session failed as interrupted, B's went on",
        );
        // the queued third is B's to run now; cancel it so B shuts down quickly
        await call(b.base, "DELETE", `/api/v1/sessions/${held[2]}`);
        assert.equal(await b.stop("SIGTERM"), 0);
      },
    );
  },
});
