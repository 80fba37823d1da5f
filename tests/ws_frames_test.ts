/**
 * The WebSocket message cap at the transport (issue 15 item 9): the guard follows a client's frames, however
 * the reads cut them, and stops at the header of the frame that takes a message over the cap, before its
 * payload; over a real socket the server then sees a 1009 close instead of the message, and so does the
 * client. Without it, Deno read a 16 MiB message whole before the app's 64 KiB check.
 */
import assert from "node:assert/strict";
import { serveHttp } from "../src/conn_guard.ts";
import { WsMessageLimit } from "../src/ws_frames.ts";

/** A masked client frame: `opcode`, `fin`, and `size` payload bytes. */
function frame(opcode: number, size: number, fin = true): Uint8Array {
  const len = size < 126 ? [size] : size < 65536 ? [126, size >> 8, size & 255] : [
    127,
    0,
    0,
    0,
    0,
    (size >>> 24) & 255,
    (size >> 16) & 255,
    (size >> 8) & 255,
    size & 255,
  ];
  const head = [(fin ? 0x80 : 0) | opcode, 0x80 | len[0], ...len.slice(1), 1, 2, 3, 4];
  const out = new Uint8Array(head.length + size);
  out.set(head);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};

/** Feeds `bytes` to a limit `size` bytes at a time; answers what passed and whether it stopped. */
function feed(limit: WsMessageLimit, bytes: Uint8Array, size: number) {
  let passed = 0;
  for (let at = 0; at < bytes.length; at += size) {
    const { pass, tooBig } = limit.take(bytes.subarray(at, at + size));
    passed += pass.length;
    if (tooBig) return { passed, tooBig };
  }
  return { passed, tooBig: false };
}

Deno.test("messages up to the cap pass whole, however the reads cut their frames", () => {
  const bytes = concat(frame(1, 100), frame(2, 1000), frame(9, 4), frame(2, 1000, false), frame(0, 24));
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    assert.deepEqual(feed(new WsMessageLimit(1024), bytes, size), { passed: bytes.length, tooBig: false });
  }
});

Deno.test("a frame over the cap stops at its header: nothing of it passes", () => {
  const small = frame(1, 10);
  for (const size of [1, 5, 4096]) {
    const { passed, tooBig } = feed(new WsMessageLimit(1024), concat(small, frame(2, 70_000)), size);
    assert.equal(tooBig, true);
    assert.equal(passed, small.length, `read ${size} at a time`);
  }
  // a 64-bit length (16 MiB) is read right
  assert.equal(feed(new WsMessageLimit(65536), frame(2, 16 << 20), 1 << 16).tooBig, true);
});

Deno.test("a message fragmented into small frames is counted whole; control frames between do not count", () => {
  const parts = concat(frame(2, 600, false), frame(9, 100), frame(0, 600, false), frame(0, 10));
  const { passed, tooBig } = feed(new WsMessageLimit(1024), parts, 50);
  assert.equal(tooBig, true);
  assert.equal(passed, frame(2, 600).length + frame(9, 100).length);
});

Deno.test("through the guard, a message over the cap never reaches the server, and both ends see 1009", async () => {
  const received: number[] = [];
  let serverClose = 0;
  const { server, guard } = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    guard: { headerTimeoutMs: 5000, idleTimeoutMs: 5000, wsMaxMessageBytes: 64 * 1024 },
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => received.push((e.data as string).length);
    socket.onclose = (e) => (serverClose = e.code);
    return response;
  });
  if (!guard) throw new Error("serveHttp was given a guard");
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${guard.addr.port}/`);
    await new Promise((r) => (ws.onopen = r));
    const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
    ws.send("a".repeat(60 * 1024));
    ws.send("b".repeat(16 * 1024 * 1024));
    ws.send("c");
    const code = await closed;
    assert.equal(code, 1009);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(received, [60 * 1024], "only the message under the cap reached the server");
    assert.equal(serverClose, 1009);
    assert.equal(guard.stats().cut.ws_message_too_big, 1);
  } finally {
    guard.stopAccepting();
    await server.shutdown();
    await guard.close();
  }
});
