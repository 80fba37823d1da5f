/**
 * How automation sessions end: cancel, timeouts, the queue limit, browser crashes, flow errors, remote browsers.
 * One browser pool per file (see withSharedBrowser); every step must leave no browser context open.
 */
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { BrowserPool } from "../src/automation/pool.ts";
import { findChrome } from "../src/automation/chrome.ts";
import { BROWSER_CRASHED, PAGE_CRASHED } from "../src/automation/runtime.ts";
import { createLogger } from "../src/log.ts";
import { automationSessions } from "../db/schema.ts";
import { apiKeyIdFor } from "../src/auth/api_keys.ts";
import { problem } from "./helpers.ts";
import { socket } from "./e2e_fixtures.ts";
import { ADMIN, automationApp, waitFor, withSharedBrowser } from "./automation_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("the life and end of automation sessions, with real Chromium", async (t) => {
  const pool = await withSharedBrowser(t, async ({ spec, pool, portal }) => {
    await spec(
      "DELETE /api/v1/sessions/:id cancels and has closed the browser context when it answers",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-hang", {});
        await waitFor(async () => (await a.automation.sessions.get(id)).progress === 5, "the page to open");
        assert.equal(pool.openContexts, 1);
        assert.equal(pool.browser!.browserContexts().length, 2);
        const res = await a.json("DELETE", `/api/v1/sessions/${id}`, undefined, ADMIN);
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.equal(body.status, "cancelled");
        assert.equal(pool.openContexts, 0);
        assert.equal(pool.browser!.browserContexts().length, 1);
        // The reaper closes contexts nobody owns (e.g. leaked by a failed open).
        await pool.browser!.createBrowserContext();
        assert.equal(pool.browser!.browserContexts().length, 2);
        await a.automation.reaper.tick();
        assert.equal(pool.browser!.browserContexts().length, 1);
        const again = await a.json("DELETE", `/api/v1/sessions/${id}`, undefined, ADMIN);
        assert.equal((await again.json()).status, "cancelled", "cancelling twice changes nothing");
        const answer = await a.json(
          "POST",
          `/api/v1/sessions/${id}/input`,
          { prompt: "p_x", value: "1" },
          ADMIN,
        );
        assert.equal(answer.status, 409);
        await answer.body?.cancel();
      },
    );

    await spec(
      "an unanswered prompt ends the session as expired after SESSION_PROMPT_TIMEOUT_S",
      async () => {
        await using a = await automationApp(pool, portal.url, { SESSION_PROMPT_TIMEOUT_S: "240" });
        const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Tim" });
        await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "the prompt");
        a.clock.advance(239_000);
        await a.automation.reaper.tick();
        assert.equal((await a.automation.sessions.get(id)).status, "waiting");
        a.clock.advance(2_000);
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "expired" && v;
        }, "expiry");
        assert.equal(s.error, "No answer to the code prompt within 240 s");
        assert.equal(s.prompt, null);
        assert.equal(pool.openContexts, 0);
      },
    );

    await spec("a session ends as expired after SESSION_MAX_S, even when queued or busy", async () => {
      await using a = await automationApp(pool, portal.url, { SESSION_MAX_S: "60", MAX_SESSIONS: "1" });
      const busy = await a.automation.sessions.start("admin", "test-hang", {});
      const queued = await a.automation.sessions.start("admin", "test-hang", {});
      await waitFor(
        async () => (await a.automation.sessions.get(busy.id)).progress === 5,
        "the page to open",
      );
      assert.equal((await a.automation.sessions.get(queued.id)).status, "queued");
      a.clock.advance(60_000);
      for (const id of [busy.id, queued.id]) {
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "expired" && v;
        }, "expiry");
        assert.equal(s.error, "The session reached its maximum lifetime of 60 s");
      }
      assert.equal(pool.openContexts, 0);
      assert.equal(pool.browser!.browserContexts().length, 1);
    });

    await spec(
      "POST /api/v1/sessions answers 429 with Retry-After when MAX_SESSIONS run and MAX_QUEUE wait",
      async () => {
        await using a = await automationApp(pool, portal.url, { MAX_SESSIONS: "1", MAX_QUEUE: "1" });
        const first =
          await (await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN)).json();
        const second = await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN);
        assert.equal(second.status, 201);
        const queued = await second.json();
        assert.equal(queued.status, "queued");
        const third = await a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, ADMIN);
        assert.equal(third.status, 429);
        assert.equal(third.headers.get("retry-after"), "10");
        assert.match(
          (await problem(third)).detail as string,
          /browser pool is full \(1 of 1 running, 1 of 1 queued\)/,
        );
        await a.automation.sessions.cancel(first.id);
        await waitFor(
          async () => (await a.automation.sessions.get(queued.id)).progress === 5,
          "the queued one to run",
        );
        await a.automation.sessions.cancel(queued.id);
      },
    );

    await spec(
      "fair share: one user holds at most MAX_SESSIONS_PER_USER active sessions (a 429 of its own), others still start",
      async () => {
        await using a = await automationApp(pool, portal.url, {
          MAX_SESSIONS: "1",
          MAX_QUEUE: "8",
          MAX_SESSIONS_PER_USER: "2",
          MAX_SESSIONS_PER_API_KEY: "2",
        });
        const [ann, bob] = [await a.login(), await a.login()];
        const start = (headers: Record<string, string>) =>
          a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, headers);
        const asAnn = { authorization: `Bearer ${ann.access_token}` };
        const ids: string[] = [];
        for (let n = 0; n < 2; n++) {
          const res = await start(asAnn);
          assert.equal(res.status, 201);
          ids.push((await res.json()).id);
        }
        const third = await start(asAnn);
        assert.equal(third.status, 429);
        assert.equal(third.headers.get("retry-after"), "10");
        assert.equal(third.headers.get("content-type"), "application/problem+json");
        const body = await problem(third);
        assert.equal(body.reason, "session_quota");
        assert.equal(body.limit, 2);
        assert.match(
          body.detail as string,
          /this user already has 2 active session\(s\), the most one caller may/,
        );
        const bobs = await start({ authorization: `Bearer ${bob.access_token}` });
        assert.equal(bobs.status, 201, "another user still gets a place in the queue");
        ids.push((await bobs.json()).id);
        for (let n = 0; n < 2; n++) {
          const res = await start(ADMIN);
          assert.equal(res.status, 201);
          ids.push((await res.json()).id);
        }
        const key = await start(ADMIN);
        assert.equal(key.status, 429);
        assert.match((await problem(key)).detail as string, /this API key already has 2 active session/);
        await a.automation.sessions.cancel(ids.shift()!);
        const again = await start(asAnn);
        assert.equal(again.status, 201, "a finished session frees its owner's share");
        ids.push((await again.json()).id);
        for (const id of ids) await a.automation.sessions.cancel(id);
      },
    );

    await spec(
      "fair share is per API key: a key at MAX_SESSIONS_PER_API_KEY gets the 429, another key still starts (HTTP and ticketed /ws)",
      async () => {
        await using a = await automationApp(pool, portal.url, {
          MAX_SESSIONS: "1",
          MAX_QUEUE: "8",
          MAX_SESSIONS_PER_API_KEY: "2",
          API_KEYS: "admin-key,other-key",
        });
        await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.app.fetch);
        const origin = `127.0.0.1:${server.addr.port}`;
        const OTHER = { "x-api-key": "other-key" };
        const start = (headers: Record<string, string>) =>
          a.json("POST", "/api/v1/sessions", { flow: "test-hang", input: {} }, headers);
        const startOverTicket = async (headers: Record<string, string>) => {
          const { ws_url } = await (await a.json("POST", "/api/v1/ws/tickets", undefined, headers)).json();
          const c = socket(ws_url.replace("ws://localhost", `ws://${origin}`));
          await c.opened;
          c.send({ type: "start", flow: "test-hang", input: {} });
          return c;
        };
        for (let n = 0; n < 2; n++) assert.equal((await start(ADMIN)).status, 201);
        const full = await start(ADMIN);
        assert.equal(full.status, 429);
        assert.equal(full.headers.get("retry-after"), "10");
        assert.equal(full.headers.get("content-type"), "application/problem+json");
        const body = await problem(full);
        assert.equal(body.reason, "session_quota");
        assert.deepEqual([body.limit, body.active], [2, 2]);
        assert.match(body.detail as string, /this API key already has 2 active session\(s\)/);

        const other = await start(OTHER);
        assert.equal(other.status, 201, "another key is not locked out by the first one's sessions");
        assert.equal((await other.json()).owner, "admin", "clients still see key sessions as admin's");
        // A ticket carries its key's id: the socket's session counts against that key, not another.
        const mine = await startOverTicket(OTHER);
        assert.equal((await mine.next((m) => m.type === "status", "the queued status")).status, "queued");
        const otherFull = await start(OTHER);
        assert.equal(otherFull.status, 429);
        assert.match((await problem(otherFull)).detail as string, /this API key already has 2 active/);
        const refused = await startOverTicket(ADMIN);
        const error = await refused.next((m) => m.type === "error", "the 429");
        assert.deepEqual([error.status, error.reason], [429, "session_quota"]);

        // Sessions name their key by a hash prefix (src/auth/api_keys.ts), never by the key.
        const rows = await a.db.db.select({ key: automationSessions.apiKeyId }).from(automationSessions);
        const [keyA, keyB] = [apiKeyIdFor("admin-key"), apiKeyIdFor("other-key")];
        assert.deepEqual(rows.map((r) => r.key).sort(), [keyA, keyA, keyB, keyB].sort());
        assert.match(keyA, /^[0-9a-f]{16}$/);
        for (const s of await a.automation.sessions.list()) await a.automation.sessions.cancel(s.id);
        mine.ws.close();
        refused.ws.close();
      },
    );

    await spec(
      "kill -9 of the renderer process of a session waiting at a prompt fails it at once with the page-crash error",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Tim" });
        await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "the prompt");
        // Every renderer process (CDP SystemInfo.getProcessInfo), so the page's own is among them; the
        // browser process lives on (the next step kills the whole browser anyway).
        const cdp = await pool.browser!.target().createCDPSession();
        const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
        await cdp.detach();
        const renderers = processInfo.filter((p) => p.type === "renderer").map((p) => p.id);
        assert.ok(renderers.length > 0);
        for (const pid of renderers) Deno.kill(pid, "SIGKILL");
        let end: Json | undefined;
        for await (const e of a.automation.sessions.follow(id)) {
          if (e.type === "status" && e.data.status === "failed") end = e.data;
        }
        assert.equal(end?.error, PAGE_CRASHED);
        assert.equal(pool.openContexts, 0);
      },
    );

    await spec(
      "a killed browser fails its sessions with a clear error, and the next session gets a new browser",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-hang", {});
        await waitFor(async () => (await a.automation.sessions.get(id)).progress === 5, "the page to open");
        const old = pool.browser!;
        old.process()!.kill("SIGKILL");
        const s = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.status === "failed" && v;
        }, "the failure");
        assert.equal(s.error, BROWSER_CRASHED);
        assert.equal(pool.openContexts, 0);
        const next = await a.automation.sessions.start("admin", "test-quick", { n: 1 });
        const done = await waitFor(async () => {
          const v = await a.automation.sessions.get(next.id);
          return v.finished_at ? v : null;
        }, "the next session");
        assert.equal(done.status, "succeeded", done.error ?? "");
        assert.notEqual(pool.browser, old);
      },
    );

    await spec(
      "a crashed page fails its waiting session at once, saying so, and an answer to it is refused with 409",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Tim" });
        const { prompt } = await waitFor(async () => {
          const v = await a.automation.sessions.get(id);
          return v.prompt && v;
        }, "the prompt");
        // Page.crash kills the tab's renderer the way `kill -9` of its process does (Inspector.targetCrashed).
        const cdp = await a.automation.sessions.page(id)!.createCDPSession();
        void cdp.send("Page.crash").catch(() => {}); // never answers: the renderer is gone
        const events: string[] = [];
        let end: Json | undefined;
        for await (const e of a.automation.sessions.follow(id)) {
          events.push(e.type);
          if (e.type === "status" && e.data.status === "failed") end = e.data;
        }
        assert.equal(end?.error, PAGE_CRASHED);
        const s = await a.automation.sessions.get(id);
        assert.equal(s.status, "failed");
        assert.equal(s.error, PAGE_CRASHED);
        const answer = await a.json("POST", `/api/v1/sessions/${id}/input`, {
          prompt: prompt!.id,
          value: "1",
        }, ADMIN);
        assert.equal(answer.status, 409);
        assert.match((await problem(answer)).detail as string, /is already failed/);
        assert.equal(pool.openContexts, 0);
        assert.ok(pool.browser?.connected, "the browser itself lives on");
      },
    );

    await spec(
      "a flow's FlowError fails the session with its message and step; other errors are reported generically",
      async () => {
        await using a = await automationApp(pool, portal.url);
        const e1 = await a.automation.sessions.start("admin", "test-fail", {});
        const e2 = await a.automation.sessions.start("admin", "test-fail", { expected: false });
        const ended = async (id: string) => {
          const v = await a.automation.sessions.get(id);
          return v.finished_at ? v : null;
        };
        const f1 = await waitFor(() => ended(e1.id), "fail 1");
        const f2 = await waitFor(() => ended(e2.id), "fail 2");
        assert.deepEqual([f1.status, f1.error, f1.error_step], [
          "failed",
          "No vehicle found with plate ZZZ999",
          "search",
        ]);
        assert.deepEqual([f2.status, f2.error], ["failed", "The flow test-fail failed unexpectedly: boom"]);
      },
    );

    await spec("extend() pushes back the session and prompt deadlines", async () => {
      await using a = await automationApp(pool, portal.url, { SESSION_PROMPT_TIMEOUT_S: "240" });
      const { id } = await a.automation.sessions.start("admin", "test-ask-code", { name: "Ext" });
      await waitFor(async () => (await a.automation.sessions.get(id)).prompt, "the prompt");
      const extended = await a.automation.sessions.extend(id, 100);
      assert.equal(Date.parse(extended.expires_at), a.clock.now().getTime() + 1000_000);
      a.clock.advance(300_000);
      await a.automation.reaper.tick();
      assert.equal((await a.automation.sessions.get(id)).status, "waiting");
      a.clock.advance(41_000);
      await waitFor(async () => (await a.automation.sessions.get(id)).status === "expired", "expiry");
      const log = await a.automation.sessions.events(id);
      assert.ok(log.some((e) => e.type === "extended"));
    });

    await spec("a missing Chromium fails the session with a message saying what to set", async () => {
      await using broken = new BrowserPool({
        executablePath: "/nonexistent/chrome",
        log: createLogger("silent"),
      });
      await using a = await automationApp(broken, portal.url);
      const { id } = await a.automation.sessions.start("admin", "test-quick", { n: 1 });
      const s = await waitFor(async () => {
        const v = await a.automation.sessions.get(id);
        return v.finished_at ? v : null;
      }, "the failure");
      assert.equal(s.status, "failed");
      assert.equal(s.error, "Cannot start the browser: CHROME_PATH /nonexistent/chrome does not exist");
    });

    await spec(
      "BROWSER_WS_ENDPOINT: sessions run in a remote browser, which the pool leaves running",
      async () => {
        const remote = await puppeteer.launch({
          executablePath: await findChrome(),
          headless: true,
          args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
        });
        try {
          const remotePool = new BrowserPool({
            wsEndpoint: remote.wsEndpoint(),
            log: createLogger("silent"),
          });
          {
            await using a = await automationApp(remotePool, portal.url);
            const { id } = await a.automation.sessions.start("admin", "test-quick", { n: 7 });
            const s = await waitFor(async () => {
              const v = await a.automation.sessions.get(id);
              return v.finished_at ? v : null;
            }, "the remote session");
            assert.equal(s.status, "succeeded", s.error ?? "");
            assert.deepEqual(s.result, { n: 7, two: 2 });
          }
          await remotePool.close();
          assert.ok(remote.connected, "closing the pool does not close a remote browser");
          assert.equal(remote.browserContexts().length, 1);
        } finally {
          await remote.close();
        }
      },
    );
  });
  assert.ok(pool.profileDirs.length >= 2, "the crash test relaunched the browser");
});
