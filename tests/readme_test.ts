import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

/** The shell block under the README heading that starts with `heading`. */
export async function readmeBlock(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const at = readme.indexOf(`## ${heading}`);
  assert.ok(at >= 0, `README has no "## ${heading}" section`);
  const block = readme.slice(at).match(/```sh\n([\s\S]*?)```/);
  assert.ok(block, `README "## ${heading}" has no sh block`);
  return block[1];
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

Deno.test("README 'Try it': every example runs as written, in order, against a freshly started server", async () => {
  const block = await readmeBlock("Try it");
  assert.match(block, /npx -y deno@2 task start/, "the block starts the server the README's way");
  const port = freePort();
  // Only two substitutions: the server runs this checkout's deno directly (the task's set-up step is
  // tested by .ci/run), and on a free port instead of 8000 so parallel tests do not collide.
  const script = block
    .replace("npx -y deno@2 task start", `"$DENO" run -A --config "${root}deno.json" "${root}src/main.ts"`)
    .replaceAll("localhost:8000", `localhost:${port}`);
  const dir = await Deno.makeTempDir({ prefix: "gatehouse_readme_" });
  try {
    const env: Record<string, string> = { ...Deno.env.toObject(), DENO: Deno.execPath(), PORT: String(port) };
    for (const k of ["DATABASE_URL", "API_KEYS", "ENV", "LOG_LEVEL", "DATA_DIR", "JWT_SECRET"]) delete env[k];
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: ["-c", `set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n${script}`],
      cwd: dir,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    const log = await Deno.readTextFile(`${dir}/gatehouse.log`).catch(() => "");
    const why = `\n--- stdout\n${out}\n--- stderr\n${
      new TextDecoder().decode(stderr)
    }\n--- gatehouse.log\n${log}`;
    assert.equal(code, 0, `the block failed${why}`);
    const key = (await Deno.readTextFile(`${dir}/data/admin_key`)).trim();
    assert.match(
      out,
      new RegExp(`gatehouse ready: console http://localhost:${port}/ .*admin key.*${key}`),
      why,
    );
    assert.match(out, /"phone":"\+36201234567"/, `GET /api/v1/me answers the signed-in user${why}`);
    assert.match(out, /\{"flows":\[/, `the admin key lists the flows${why}`);
    assert.match(out, /^gatehouse_http_requests_total\{/m, `/metrics answers the admin key${why}`);
    assert.match(out, /\{"openapi":"3\.1\.\d"/, `/openapi.json is served${why}`);
    assert.doesNotMatch(log, /"status":(401|403|422|5\d\d)/, `no example was refused${why}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
