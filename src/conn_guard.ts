/**
 * Header-read and idle timeouts for client connections (issue 15, item 8). Deno.serve (2.9) has neither: an
 * idle socket, or one trickling a header line every few seconds, stays open for as long as the client likes
 * (denoland/deno#3515). The guard accepts the public connections itself and hands each one's bytes to the
 * HTTP server on a loopback port, watching only where requests begin and end:
 * - a request's header must arrive in full within `headerTimeoutMs` of its first byte (the first request's
 *   from the connection's opening, so a socket that never speaks is closed too);
 * - a connection whose answer has been sent and that then stays silent `idleTimeoutMs` is closed;
 * - while the server holds a request (a long-poll, a slow upstream) nothing is cut: the app's own deadlines
 *   apply. An upgraded connection (WebSocket) is left to the socket's own ping/pong liveness; an HTTP/2
 *   connection (prior knowledge) is cut only when silent both ways for `idleTimeoutMs`.
 * Bytes after an answer that do not form a header in time (the rest of a body refused with 408) are cut too.
 * On an upgraded connection, a WebSocket message over `wsMaxMessageBytes` is stopped at its frame header
 * (src/ws_frames.ts): the server gets a close with 1009 in its place, and the client the server's close.
 * Copying every byte through JS costs throughput (bench/conn_guard.ts), so it is for a server that faces
 * clients itself: behind a proxy (TRUST_PROXY set), the proxy's timeouts apply and the guard is off.
 */
import { within } from "./lifecycle.ts";
import { CLOSE_TOO_BIG_FRAME, WsMessageLimit } from "./ws_frames.ts";

/** What the guard enforces. */
export interface ConnGuardOptions {
  /** The public address to accept on. */
  hostname: string;
  port: number;
  /** The loopback port the HTTP server listens on. */
  upstreamPort: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  /** A WebSocket message over this many bytes is stopped at its frame header (0: not followed). */
  wsMaxMessageBytes?: number;
  /** Called once per connection the guard cuts, with why. */
  onCut?: (reason: CutReason) => void;
}

/** Why the guard closed a connection. */
export type CutReason = "header_timeout" | "idle_timeout" | "ws_message_too_big";

/** Connections relayed now, and how many were cut so far by reason (the metrics read it). */
export interface ConnStats {
  open: number;
  cut: Record<CutReason, number>;
}

const CRLF2 = [13, 10, 13, 10];
const BUFFER = 16 * 1024;
/** How long a client may take to close its side once the server has closed its own. */
const LINGER_MS = 2000;
/** "PRI * HTTP/2.0": the start of an HTTP/2 connection preface (cleartext, prior knowledge). */
const H2_PREFACE = [80, 82, 73, 32, 42, 32, 72, 84, 84, 80, 47, 50, 46, 48];
/** "HTTP/1.1 10": an interim answer (100 Continue) or the switch of an upgrade (101). */
const INTERIM = [72, 84, 84, 80, 47, 49, 46, 49, 32, 49, 48];

/** One client connection and the state of its current request. */
class Guarded {
  /**
   * head: waiting for a request header to end; busy: the server has the request; open: upgraded (a
   * WebSocket keeps its own ping/pong liveness); h2: HTTP/2 with prior knowledge, frames not followed.
   */
  phase: "head" | "busy" | "open" | "h2" = "head";
  headStart: number;
  last: number;
  /** The server has begun its answer to the request in hand (after it, client bytes begin a new request). */
  answered = false;
  /** How many bytes of "\r\n\r\n" the header seen so far ends with (a terminator split across reads). */
  matched = 0;
  /** The frames of an upgraded connection, when WebSocket messages are capped. */
  ws?: WsMessageLimit;
  /** Set when a message went over the cap: the client's 1009 close went to the server, which closes by then. */
  closeBy?: number;
  constructor(
    readonly client: Deno.TcpConn,
    readonly upstream: Deno.TcpConn,
    now: number,
    readonly wsMax: number,
    /** Counts a cut of this connection, once. */
    readonly cut: (reason: CutReason) => void,
  ) {
    this.headStart = now;
    this.last = now;
  }

  /** Bookkeeping for bytes from the client; answers what to pass on to the server. */
  fromClient(chunk: Uint8Array, now: number): Uint8Array {
    this.last = now;
    if (this.phase === "open") return this.ws ? this.#frames(chunk, now) : chunk;
    if (this.phase === "h2") return chunk;
    if (this.phase === "head" && this.matched === 0 && startsWith(chunk, H2_PREFACE)) {
      this.phase = "h2";
      return chunk;
    }
    this.#header(chunk, now);
    return chunk;
  }

  /** Follows where requests begin and their headers end. */
  #header(chunk: Uint8Array, now: number): void {
    if (this.phase === "busy") {
      if (!this.answered) return; // the request's body
      this.phase = "head"; // the next request begins
      this.headStart = now;
      this.matched = 0;
    }
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      this.matched = b === CRLF2[this.matched] ? this.matched + 1 : b === 13 ? 1 : 0;
      if (this.matched === 4) {
        this.phase = "busy";
        this.answered = false;
        return; // the rest of the chunk is this request's body (or the next, pipelined, request)
      }
    }
  }

  /** A WebSocket's frames: what may pass, up to the header of a frame that takes its message over the cap. */
  #frames(chunk: Uint8Array, now: number): Uint8Array {
    if (this.closeBy) return new Uint8Array(0); // over the cap already: nothing more reaches the server
    const { pass, tooBig } = this.ws!.take(chunk);
    if (!tooBig) return pass;
    this.closeBy = now + 2000;
    this.cut("ws_message_too_big");
    const out = new Uint8Array(pass.length + CLOSE_TOO_BIG_FRAME.length);
    out.set(pass);
    out.set(CLOSE_TOO_BIG_FRAME, pass.length);
    return out; // the server closes the socket with 1009 as if the client had, and its close reaches the client
  }

  /** Bookkeeping for bytes from the server. */
  fromServer(chunk: Uint8Array, now: number): void {
    this.last = now;
    if (this.phase !== "busy" || this.answered) return;
    if (startsWith(chunk, INTERIM)) {
      if (chunk[INTERIM.length] === 49) { // 101 Switching Protocols
        this.phase = "open";
        if (this.wsMax > 0) this.ws = new WsMessageLimit(this.wsMax);
      }
      return; // 100 Continue: the body follows, the answer is still to come
    }
    this.answered = true;
  }

  /** Closes this connection and counts why when it is over its time at `now`; true when it did. */
  cutIfOverdue(now: number, headerMs: number, idleMs: number): boolean {
    let reason: CutReason | null = null;
    if (this.closeBy) {
      if (now > this.closeBy) this.close(); // counted when it was stopped; the server had its 2 s to close
      return now > this.closeBy;
    }
    if (this.phase === "head") reason = now - this.headStart > headerMs ? "header_timeout" : null;
    else if ((this.phase === "busy" && this.answered) || this.phase === "h2") {
      reason = now - this.last > idleMs ? "idle_timeout" : null;
    }
    if (!reason) return false;
    this.close();
    this.cut(reason);
    return true;
  }

  close(): void {
    for (const c of [this.client, this.upstream]) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
  }
}

function startsWith(chunk: Uint8Array, prefix: number[]): boolean {
  if (chunk.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (chunk[i] !== prefix[i]) return false;
  return true;
}

/** Copies `from` to `to` until either ends, passing on what `seen` answers of each chunk; then ends `to`'s writes. */
async function pump(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  seen: (chunk: Uint8Array) => Uint8Array | void,
): Promise<void> {
  const buf = new Uint8Array(BUFFER);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      const chunk = seen(buf.subarray(0, n)) ?? buf.subarray(0, n);
      for (let off = 0; off < chunk.length;) off += await to.write(chunk.subarray(off));
    }
  } catch {
    // a reset or a close by the other pump or the guard: the connection is over
  }
  try {
    await to.closeWrite();
  } catch {
    // closed already
  }
}

/** Accepts client connections on the public port and relays them to the HTTP server with timeouts. */
export class ConnGuard {
  readonly #listener: Deno.TcpListener;
  readonly #options: ConnGuardOptions;
  readonly #open = new Set<Guarded>();
  /** The client behind each loopback connection to the server, by the loopback connection's local port. */
  readonly #clients = new Map<number, Deno.NetAddr>();
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;
  /** Each connection's relay, until both directions have ended. */
  readonly #relays = new Set<Promise<void>>();
  readonly #cut: Record<CutReason, number> = { header_timeout: 0, idle_timeout: 0, ws_message_too_big: 0 };
  #closed = false;

  constructor(options: ConnGuardOptions) {
    this.#options = options;
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    const every = Math.max(25, Math.min(1000, Math.min(options.headerTimeoutMs, options.idleTimeoutMs) / 4));
    this.#sweep = setInterval(() => this.#cutOverdue(), every);
    this.#accepting = this.#accept();
  }

  /** The public address the guard accepts on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Connections open now and those cut so far. */
  stats(): ConnStats {
    return { open: this.#open.size, cut: { ...this.#cut } };
  }

  /** The client's address for a connection the server got from the guard (other callers: their own). */
  clientOf(remote: Deno.NetAddr): Deno.NetAddr {
    return (remote.hostname === "127.0.0.1" && this.#clients.get(remote.port)) || remote;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener is closed
      }
      const relay = this.#relay(client);
      this.#relays.add(relay);
      relay.finally(() => this.#relays.delete(relay));
    }
  }

  async #relay(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#options.upstreamPort });
    } catch {
      try {
        client.close(); // the server is gone (shutting down): the client retries elsewhere
      } catch { /* closed */ }
      return;
    }
    const local = (upstream.localAddr as Deno.NetAddr).port;
    const clientAddr = client.remoteAddr as Deno.NetAddr;
    this.#clients.set(local, clientAddr);
    const conn = new Guarded(client, upstream, Date.now(), this.#options.wsMaxMessageBytes ?? 0, (reason) => {
      this.#cut[reason]++;
      this.#options.onCut?.(reason);
    });
    this.#open.add(conn);
    const requests = pump(client, upstream, (chunk) => conn.fromClient(chunk, Date.now()));
    await pump(upstream, client, (chunk) => conn.fromServer(chunk, Date.now()));
    // The server is done: the client has had its end (FIN) and is given a moment to close its side; closing
    // while it still sends would reset the connection and could lose the server's last bytes (a close frame).
    await within(requests, LINGER_MS);
    conn.close();
    await requests;
    this.#open.delete(conn);
    // a loopback port can be taken again at once (tcp_tw_reuse): forget it only if it is still this client's
    if (this.#clients.get(local) === clientAddr) this.#clients.delete(local);
  }

  #cutOverdue(): void {
    const now = Date.now();
    const { headerTimeoutMs, idleTimeoutMs } = this.#options;
    for (const conn of this.#open) {
      if (conn.cutIfOverdue(now, headerTimeoutMs, idleTimeoutMs)) this.#open.delete(conn);
    }
  }

  /** Stops accepting; connections already open are left to end with the server's shutdown. */
  stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
  }

  /**
   * Stops accepting, lets each connection pass on what the server has already answered (the server, shut
   * down before this, closes its side of every one) for up to `flushMs`, then closes what is left.
   */
  async close(flushMs = 2000): Promise<void> {
    this.stopAccepting();
    clearInterval(this.#sweep);
    await this.#accepting;
    await within(Promise.allSettled([...this.#relays]), flushMs);
    for (const conn of this.#open) conn.close();
    this.#open.clear();
    this.#clients.clear();
    await Promise.allSettled([...this.#relays]);
  }
}

/** True when the guard should front the server: `on`, or `auto` with no proxy in front (TRUST_PROXY=false). */
export function connGuardWanted(
  config: { HTTP_CONN_GUARD: "auto" | "on" | "off"; TRUST_PROXY: unknown },
): boolean {
  return config.HTTP_CONN_GUARD === "on" ||
    (config.HTTP_CONN_GUARD === "auto" && config.TRUST_PROXY === false);
}

/** The guard's limits, as `serveHttp` takes them (it sets the addresses). */
export type GuardLimits = Omit<ConnGuardOptions, "hostname" | "port" | "upstreamPort">;

/**
 * Serves `handler` on `hostname:port`; with `guard`, behind a connection guard there (the server then listens
 * on a loopback port, and the handler sees each client's own address). `addr` is the public address.
 */
export function serveHttp(
  options: { hostname: string; port: number; guard?: GuardLimits },
  handler: (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>,
): { server: Deno.HttpServer<Deno.NetAddr>; guard?: ConnGuard; addr: Deno.NetAddr } {
  const front: { guard?: ConnGuard } = {};
  const server = Deno.serve(
    {
      hostname: options.guard ? "127.0.0.1" : options.hostname,
      port: options.guard ? 0 : options.port,
      onListen: () => {},
    },
    (req, info) =>
      handler(req, front.guard ? { ...info, remoteAddr: front.guard.clientOf(info.remoteAddr) } : info),
  );
  if (!options.guard) return { server, addr: server.addr };
  const guard = front.guard = new ConnGuard({
    ...options.guard,
    hostname: options.hostname,
    port: options.port,
    upstreamPort: server.addr.port,
  });
  return { server, guard, addr: guard.addr };
}
