/**
 * Slow clients (issue 15, item 8): over a real socket, a request body that trickles in (or never comes)
 * is answered 408 once REQUEST_BODY_TIMEOUT_MS has passed, and its handler is released, instead of being
 * held for as long as the client likes. The socket itself stays open until the client ends the body:
 * Deno.serve (2.9) neither closes a connection whose request body is unfinished, even after a
 * `connection: close` answer, nor limits header or idle time (denoland/deno#3515): the connection guard
 * does (tests/conn_guard_test.ts), or the proxy in front.
 */
import assert from "node:assert/strict";
import { testApp } from "./helpers.ts";

/** Reads one HTTP/1.1 answer (head and a Content-Length body), or what came before the server closed. */
async function readAnswer(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  for (;;) {
    const n = await conn.read(buf).catch(() => null); // a reset is a close too
    if (n === null) return text;
    text += decoder.decode(buf.slice(0, n), { stream: true });
    const end = text.indexOf("\r\n\r\n");
    const length = Number(text.match(/content-length: (\d+)/i)?.[1] ?? NaN);
    if (end >= 0 && text.length >= end + 4 + length) return text;
  }
}

async function served(timeoutMs: string) {
  const t = await testApp({ config: { REQUEST_BODY_TIMEOUT_MS: timeoutMs } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.app.fetch);
  return {
    t,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await t[Symbol.asyncDispose]();
    },
  };
}

const HEAD = (length: number) =>
  `POST /api/v1/otp/request HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${length}\r\n\r\n`;

Deno.test("a body that never arrives is answered 408 and changes nothing", async () => {
  await using s = await served("300");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(new TextEncoder().encode(HEAD(100) + '{"phone":'));
  const answer = await readAnswer(conn);
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /application\/problem\+json/);
  assert.equal(s.t.sms.sent.length, 0);
});

Deno.test("a body trickled a byte at a time is cut off with a 408", async () => {
  await using s = await served("300");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(HEAD(10_000)));
  let closed = false;
  const trickle = (async () => {
    while (!closed) {
      await new Promise((r) => setTimeout(r, 50));
      await conn.write(encoder.encode(" ")).catch(() => (closed = true));
    }
  })();
  const answer = await readAnswer(conn);
  closed = true;
  await trickle;
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 408 /);
});

Deno.test("a body that arrives in time is read as usual", async () => {
  await using s = await served("5000");
  const body = JSON.stringify({ phone: "+36201234567" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(
    new TextEncoder().encode(
      HEAD(body.length).replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n") + body,
    ),
  );
  const answer = await readAnswer(conn);
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 202 /);
});
