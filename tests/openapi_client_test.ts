import assert from "node:assert/strict";
import openapiTS, { astToString } from "openapi-typescript";
import { testApp } from "./helpers.ts";

const root = new URL("..", import.meta.url).pathname;

/** The README's typed-client example (the ts block after "### OpenAPI"). */
async function readmeClientExample(): Promise<string> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const at = readme.indexOf("### OpenAPI, the reference page and a typed client");
  assert.ok(at >= 0, "README has the typed-client section");
  const block = readme.slice(at).match(/```ts\n([\s\S]*?)```/);
  assert.ok(block, "the section has a ts block");
  return block[1];
}

async function check(dir: string, file: string): Promise<{ ok: boolean; out: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", `--config=${root}deno.json`, `${dir}/${file}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: success, out: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}

Deno.test("README's typed client (openapi-typescript + openapi-fetch) type-checks against /openapi.json", async () => {
  await using t = await testApp({ config: { DEMO_PORTAL: "false" } });
  const doc = await (await t.app.request("/openapi.json")).json();
  // openapi-typescript also validates the document (Redocly's parser) and throws on an invalid one.
  const types = astToString(await openapiTS(doc));
  const dir = await Deno.makeTempDir({ dir: root, prefix: ".openapi_client_" });
  try {
    await Deno.writeTextFile(`${dir}/gatehouse.d.ts`, types);
    await Deno.writeTextFile(`${dir}/example.ts`, await readmeClientExample());
    const good = await check(dir, "example.ts");
    assert.ok(good.ok, `the README example does not type-check:\n${good.out}`);
    // The types are real: a wrong body and an unknown path are rejected.
    await Deno.writeTextFile(
      `${dir}/wrong.ts`,
      `import createClient from "openapi-fetch";
import type { paths } from "./gatehouse.d.ts";
const api = createClient<paths>({ baseUrl: "http://localhost:8000" });
await api.POST("/api/v1/otp/verify", { body: { phone: 1 } });
`,
    );
    const bad = await check(dir, "wrong.ts");
    assert.equal(bad.ok, false, "a wrong body must not type-check");
    assert.match(bad.out, /phone|code/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
