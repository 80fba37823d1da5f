/**
 * Instant logout without a lookup per request: login sessions in memory, revocations broadcast over
 * LISTEN/NOTIFY to every instance sharing the database, sockets and streams of a logged-out login ended.
 */
import assert from "node:assert/strict";
import { createDb, type DbHandle } from "../db/client.ts";
import { createApp } from "../src/app.ts";
import { LoginSessions } from "../src/auth/login_cache.ts";
import { createAutomation } from "../src/automation/mod.ts";
import type { Deps } from "../src/deps.ts";
import { EventBus } from "../src/events.ts";
import { LOGGED_OUT_CLOSE_CODE } from "../src/http_socket.ts";
import { instrumentDb } from "./camera_helpers.ts";
import { socket } from "./e2e_fixtures.ts";
import { problem, recordingLogger, type TestApp, testApp } from "./helpers.ts";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Instance A (the test app) whose LoginSessions listens on the database broadcast. */
async function listeningApp(probe: { selects?: () => number } = {}): Promise<TestApp> {
  const t = await testApp({
    deps: (base) => {
      const instrumented = instrumentDb(base.db);
      probe.selects = instrumented.selects;
      return { db: instrumented.db, logins: new LoginSessions({ ...base, db: instrumented.db }) };
    },
  });
  await t.deps.logins!.listen(t.db);
  return t;
}

/** Instance B: its own app, event bus, login sessions and (on Postgres) its own connection pool. */
async function instanceB(t: TestApp) {
  let own: DbHandle | undefined;
  if (t.db.kind === "postgres") {
    const url = new URL(Deno.env.get("DATABASE_URL")!);
    url.pathname = new URL(t.db.location).pathname;
    own = await createDb({ url: url.toString(), poolSize: 3 });
  }
  const handle = own ?? t.db;
  const base: Deps = { ...t.deps, db: handle.db, events: new EventBus(), log: recordingLogger() };
  const logins = new LoginSessions(base);
  await logins.listen(handle);
  const deps: Deps = { ...base, logins, cameraAuth: undefined };
  deps.automation = createAutomation(deps, { flows: [], portalUrl: "http://127.0.0.1:9/" });
  const app = createApp(deps);
  return {
    app,
    deps,
    logins,
    async [Symbol.asyncDispose]() {
      await deps.automation!.close();
      await logins[Symbol.asyncDispose]();
      await own?.close();
    },
  };
}

Deno.test("a warm GET /api/v1/me makes no database round trip", async () => {
  const probe: { selects?: () => number } = {};
  await using t = await listeningApp(probe);
  const login = await t.login();
  const first = await t.json("GET", "/api/v1/me", undefined, bearer(login.access_token));
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { id: login.user.id, phone: login.user.phone });
  const before = probe.selects!();
  for (let i = 0; i < 50; i++) {
    const res = await t.json("GET", "/api/v1/me", undefined, bearer(login.access_token));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: login.user.id, phone: login.user.phone });
  }
  assert.equal(probe.selects!() - before, 0, "no query for a warm authenticated request");
  // Logout still takes effect at once.
  const out = await t.json("POST", "/api/v1/auth/logout", undefined, bearer(login.access_token));
  assert.equal(out.status, 204);
  const after = await t.json("GET", "/api/v1/me", undefined, bearer(login.access_token));
  assert.equal(after.status, 401);
  assert.equal((await problem(after)).status, 401);
});

Deno.test("a token naming another user's login session is refused", async () => {
  await using t = await listeningApp();
  const a = await t.login();
  const b = await t.login();
  const [, bodyA] = a.access_token.split(".");
  const sidA = JSON.parse(atob(bodyA.replace(/-/g, "+").replace(/_/g, "/"))).sid as string;
  // Signed with the real key: only the sub/sid pairing is wrong.
  const forged = await t.deps.jwt.sign({ sub: b.user.id, sid: sidA }, 600);
  const res = await t.json("GET", "/api/v1/me", undefined, bearer(forged));
  assert.equal(res.status, 401);
  assert.equal((await problem(res)).status, 401);
  const ok = await t.json("GET", "/api/v1/me", undefined, bearer(a.access_token));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("logout on instance A makes instance B refuse the token and close its open socket with 4401", async () => {
  await using t = await listeningApp();
  await using b = await instanceB(t);
  const login = await t.login();
  // B has seen the login (its state is warm), so only the broadcast can tell it about the logout.
  const warm = await b.app.request("/api/v1/me", { headers: bearer(login.access_token) });
  assert.equal(warm.status, 200);
  await warm.body?.cancel();

  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, b.app.fetch);
  const ticketRes = await b.app.request("/api/v1/ws/tickets", {
    method: "POST",
    headers: bearer(login.access_token),
  });
  assert.equal(ticketRes.status, 201);
  const { ws_url } = await ticketRes.json();
  const url = new URL(ws_url);
  const ws = socket(`ws://127.0.0.1:${server.addr.port}${url.pathname}${url.search}`);
  await ws.opened;
  assert.equal(b.logins.stats().watched, 1);

  const out = await t.json("POST", "/api/v1/auth/logout", undefined, bearer(login.access_token));
  assert.equal(out.status, 204);
  const closed = await ws.closed; // the broadcast reached B and B closed the socket
  assert.equal(closed.code, LOGGED_OUT_CLOSE_CODE);
  assert.equal(closed.reason, "logged out");
  assert.equal(b.logins.stats().watched, 0, "the watch is removed with the socket");

  const refused = await b.app.request("/api/v1/me", { headers: bearer(login.access_token) });
  assert.equal(refused.status, 401);
  assert.equal((await problem(refused)).status, 401);
  const ticket = await b.app.request("/api/v1/ws/tickets", {
    method: "POST",
    headers: bearer(login.access_token),
  });
  assert.equal(ticket.status, 401);
  await ticket.body?.cancel();
  await server.shutdown();
});

Deno.test("an instance that (re)joins the broadcast catches up with revocations it missed", async () => {
  await using t = await listeningApp();
  const login = await t.login();
  const out = await t.json("POST", "/api/v1/auth/logout", undefined, bearer(login.access_token));
  assert.equal(out.status, 204);
  // A fresh LoginSessions that was not listening when the logout happened.
  await using late = new LoginSessions({ ...t.deps, events: new EventBus() });
  await late.listen(t.db);
  const [, body] = login.access_token.split(".");
  const sid = JSON.parse(atob(body.replace(/-/g, "+").replace(/_/g, "/"))).sid as string;
  assert.equal(late.isRevoked(sid), true);
  assert.equal(await late.check(sid, login.user.id), null);
});
