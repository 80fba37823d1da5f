import assert from "node:assert/strict";
import { testApp } from "./helpers.ts";

Deno.test("GET / serves the console with a CSP that allows no inline script or style", async () => {
  await using t = await testApp();
  const res = await t.app.request("/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script>|<style>|\sstyle=|\son[a-z]+=/, "no inline script, style or handlers");
  assert.match(html, /<script type="module" src="\/console\/app.js">/);
});

Deno.test("GET /console/<file> serves modules and the stylesheet with their types, and 304 for a known ETag", async () => {
  await using t = await testApp();
  for (const [file, type] of [["app.js", "text/javascript"], ["console.css", "text/css"]]) {
    const res = await t.app.request(`/console/${file}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), `${type}; charset=utf-8`);
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const etag = res.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{24}"$/);
    await res.body?.cancel();
    const again = await t.app.request(`/console/${file}`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
  }
  const missing = await t.app.request("/console/nope.js");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-type"), "application/problem+json");
  const settings = await (await t.app.request("/console/settings.json")).json();
  assert.deepEqual(settings, { demo: true }); // the test config keeps the built-in demo portal
});
