/** A real nginx (Debian's, with auth_request) in front of a stream location, asking gatehouse per request. */
import assert from "node:assert/strict";
import { bearer, revoke, viewer } from "./camera_helpers.ts";
import { testApp } from "./helpers.ts";

const NGINX = "/usr/sbin/nginx";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** nginx on a free loopback port, whose every request under / passes auth_request to `authUrl`. */
async function startNginx(authUrl: string): Promise<AsyncDisposable & { base: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-nginx-" });
  await Deno.mkdir(`${dir}/www`);
  await Deno.writeTextFile(`${dir}/www/segment.ts`, "segment");
  const port = freePort();
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((k) => `${k}_temp_path ${dir}/${k};`).join("\n    ");
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    ${temp}
    server {
        listen 127.0.0.1:${port};
        # Every stream URL (/<stream>/index.m3u8?token=…) is served only after the auth subrequest allows it.
        location / {
            auth_request /_auth;
            auth_request_set $viewer $upstream_http_x_userid;
            add_header X-Viewer $viewer always;
            default_type text/plain;
            root ${dir}/www;
            try_files /segment.ts =404;
        }
        location = /_auth {
            internal;
            proxy_pass ${authUrl};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }
    }
}
`,
  );
  const child = new Deno.Command(NGINX, {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  // Wait (bounded) until nginx accepts connections.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "(no error log)");
        await stop();
        throw new Error(`nginx did not start on port ${port}: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { base: `http://127.0.0.1:${port}`, dir, [Symbol.asyncDispose]: stop };
}

Deno.test("through a real nginx auth_request: a valid token plays (200), wrong stream / expired / revoked / missing token get 403", async () => {
  try {
    await Deno.stat(NGINX);
  } catch {
    throw new Error(`${NGINX} is missing: apt-get install nginx (.ci/run installs it)`);
  }
  await using t = await testApp({ config: { CAMERA_TOKEN_TTL_MIN: "10" } });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, t.app.fetch);
  try {
    await using nginx = await startNginx(`http://127.0.0.1:${server.addr.port}/api/v1/media/auth/nginx`);
    const { token, login, cameras } = await viewer(t, ["gate-1", "yard-2"]);
    const play = async (path: string) => {
      const res = await fetch(`${nginx.base}${path}`);
      return { status: res.status, body: await res.text(), viewer: res.headers.get("x-viewer") };
    };

    const ok = await play(`/gate-1/index.m3u8?token=${token}`);
    assert.deepEqual(ok, { status: 200, body: "segment", viewer: login.user.id });
    assert.equal((await play(`/yard-2/index-1767225600.ts?token=${token}`)).status, 200);
    assert.equal((await play(`/someone-else/index.m3u8?token=${token}`)).status, 403, "wrong stream");
    assert.equal((await play("/gate-1/index.m3u8")).status, 403, "missing token");
    assert.equal((await play("/gate-1/index.m3u8?token=garbage")).status, 403, "garbage token");
    assert.equal((await play(`/gate-1/index.m3u8?token=${login.access_token}`)).status, 403, "access token");

    await revoke(t, cameras[1].id, login.user.id);
    assert.equal((await play(`/yard-2/index.m3u8?token=${token}`)).status, 403, "revoked grant");
    assert.equal(
      (await play(`/gate-1/index.m3u8?token=${token}`)).status,
      200,
      "the other grant still plays",
    );

    // Logout revokes the auth session a token belongs to.
    const other = await viewer(t, ["lobby-3"]);
    assert.equal((await play(`/lobby-3/index.m3u8?token=${other.token}`)).status, 200, "before logout");
    const out = await t.app.request("/api/v1/auth/logout", {
      method: "POST",
      headers: bearer(other.login.access_token),
    });
    assert.equal(out.status, 204);
    assert.equal((await play(`/lobby-3/index.m3u8?token=${other.token}`)).status, 403, "after logout");

    t.clock.advance(10 * 60_000);
    assert.equal((await play(`/gate-1/index.m3u8?token=${token}`)).status, 403, "expired");
    // Every deny reached nginx as a 403, never as an error status it would turn into a 500.
    const log = await Deno.readTextFile(`${nginx.dir}/error.log`);
    assert.doesNotMatch(log, /auth request unexpected status/);
  } finally {
    await server.shutdown();
  }
});
