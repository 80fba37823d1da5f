/** Links handed out (ws_url) are never built from a forged Host header (issue 15, item 10). */
import assert from "node:assert/strict";
import { ADMIN, automationApp, testPool } from "./automation_fixtures.ts";

Deno.test("a ticket's ws_url uses an allowed Host, never a forged one, and PUBLIC_URL when set", async () => {
  const pool = testPool(); // never launched: no session is started
  try {
    const cases: [Record<string, string>, [string, string][]][] = [
      [{}, [
        ["http://evil.example:1234/api/v1/ws/tickets", "ws://localhost:8000/ws?ticket="],
        ["http://127.0.0.1:9000/api/v1/ws/tickets", "ws://127.0.0.1:9000/ws?ticket="],
      ]],
      [{ PUBLIC_URL: "https://gh.example" }, [[
        "http://evil.example/api/v1/ws/tickets",
        "wss://gh.example/ws?ticket=",
      ]]],
      [{ ALLOWED_HOSTS: "gate.lan" }, [[
        "http://gate.lan:8080/api/v1/ws/tickets",
        "ws://gate.lan:8080/ws?ticket=",
      ]]],
    ];
    for (const [config, requests] of cases) {
      await using a = await automationApp(pool, "http://127.0.0.1:1/demo", config);
      for (const [url, expected] of requests) {
        const res = await a.app.request(url, { method: "POST", headers: ADMIN });
        assert.equal(res.status, 201, url);
        const body = await res.json();
        assert.ok(String(body.ws_url).startsWith(expected), `${url} → ${body.ws_url}`);
      }
    }
  } finally {
    await pool.close();
  }
});
