/**
 * The WebSocket message cap at the transport (issue 15 item 9): Deno.upgradeWebSocket reads a whole message
 * before the app can look at its size (denoland/deno#15809), so a 16 MiB message was read and buffered before
 * the 64 KiB check. The connection guard (src/conn_guard.ts) follows the frames a client sends and stops at
 * the header of a frame that takes its message over the cap, before its payload is passed on.
 */

/** A client's close frame with status 1009 (message too big), masked with a zero key as RFC 6455 5.3 allows. */
export const CLOSE_TOO_BIG_FRAME = new Uint8Array([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xf1]);

/** A frame header at `at` in `data`: its length and payload size, or null when `data` ends inside it. */
function headerAt(data: Uint8Array, at: number): { length: number; size: number; opcode: number } | null {
  if (data.length - at < 2) return null;
  const len7 = data[at + 1] & 0x7f;
  const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const length = 2 + extra + (data[at + 1] & 0x80 ? 4 : 0);
  if (data.length - at < length) return null;
  let size = len7;
  if (extra) {
    size = 0;
    for (let i = 0; i < extra; i++) size = size * 256 + data[at + 2 + i];
  }
  return { length, size, opcode: data[at] & 0x0f };
}

/** Follows the frames of one client: what may be passed on, and whether a message went over the cap. */
export class WsMessageLimit {
  readonly #max: number;
  /** Bytes of a frame header that a read ended inside of (held back until the header is whole). */
  #carry = new Uint8Array(0);
  /** Payload bytes of the current frame still to pass. */
  #skip = 0;
  /** Payload bytes of the current message so far (its data frame and continuations). */
  #message = 0;

  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /**
   * Takes the next bytes from the client; answers those that may be passed on now and whether the frame
   * after them is over the cap (then nothing more may be passed on).
   */
  take(chunk: Uint8Array): { pass: Uint8Array; tooBig: boolean } {
    let data = chunk;
    if (this.#carry.length) {
      data = new Uint8Array(this.#carry.length + chunk.length);
      data.set(this.#carry);
      data.set(chunk, this.#carry.length);
      this.#carry = new Uint8Array(0);
    }
    let at = 0;
    while (at < data.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length - at);
        at += n;
        this.#skip -= n;
        continue;
      }
      const header = headerAt(data, at);
      if (!header) {
        this.#carry = data.slice(at);
        return { pass: data.subarray(0, at), tooBig: false };
      }
      if (!(header.opcode & 0x08)) { // a data frame (control frames are at most 125 bytes, apart)
        this.#message = header.opcode === 0 ? this.#message + header.size : header.size;
        if (this.#message > this.#max) return { pass: data.subarray(0, at), tooBig: true };
      }
      at += header.length;
      this.#skip = header.size;
    }
    return { pass: data, tooBig: false };
  }
}
