import assert from "node:assert/strict";
import { mountedOperations } from "../src/openapi/mod.ts";
import { testApp } from "./helpers.ts";

/** "METHOD /path" as the document lists it, back in Hono's pattern syntax (`{id}` → `:id`). */
function documented(doc: { paths: Record<string, Record<string, unknown>> }): Set<string> {
  const out = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}
const asDocumented = (key: string) => key.replace(/:(\w+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g, "{$1}");

Deno.test("GET /openapi.json documents every mounted route (and names those it misses)", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "false" } });
  const res = await t.app.request("/openapi.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.1");
  const have = documented(doc);
  const missing = mountedOperations(t.app.routes).filter((k) => !have.has(asDocumented(k)));
  assert.deepEqual(missing, [], `routes missing from /openapi.json (add them to src/openapi/operations.ts)`);
});

Deno.test("the OpenAPI document takes request schemas and auth from the routes' own middleware", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "false" } });
  const doc = await (await t.app.request("/openapi.json")).json();
  const verify = doc.paths["/api/v1/otp/verify"].post;
  const body = verify.requestBody.content["application/json"].schema;
  assert.deepEqual(body.required?.slice().sort(), ["code", "phone"]);
  assert.deepEqual(verify.security, []);
  assert.ok(verify.responses["422"].content["application/problem+json"]);
  // admin-only: requireAuth(deps, ["admin"]) applied with .use() on the firmware routes
  const firmware = doc.paths["/api/v1/firmware/{id}"].patch;
  assert.deepEqual(firmware.security, [{ adminKey: [] }]);
  assert.equal(firmware.parameters[0].in, "path");
  assert.ok(firmware.responses["403"]);
  // a user or an admin
  assert.deepEqual(doc.paths["/api/v1/sessions"].post.security, [{ adminKey: [] }, { userToken: [] }]);
  // legacy routes are marked
  assert.equal(doc.paths["/fota.php"].get["x-legacy"], true);
  assert.deepEqual(doc.paths["/fota.php"].get.tags, ["legacy"]);
  assert.equal(doc.paths["/api/v1/otp/verify"].post["x-legacy"], undefined);
  // the regex-constrained legacy socket is a plain path parameter
  assert.ok(doc.paths["/ws/{job_id}"].get);
});

Deno.test("a route mounted without an operations.ts line is reported by name", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "false" } });
  t.app.get("/api/v1/undocumented/:id", (c) => c.text("x"));
  const doc = await (await t.app.request("/openapi.json")).json();
  const have = documented(doc);
  const missing = mountedOperations(t.app.routes).filter((k) => !have.has(asDocumented(k)));
  assert.deepEqual(missing, ["GET /api/v1/undocumented/:id"]);
});

Deno.test("GET /docs serves the interactive reference pointing at /openapi.json", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "false" } });
  const res = await t.app.request("/docs");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(await res.text(), /\/openapi\.json/);
});
