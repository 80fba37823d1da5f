/**
 * What every WebSocket of the service is held to (issue 15 item 9): browsers may upgrade only from allowed
 * origins; a message over 64 KiB closes the socket with 1009 before it is parsed; a socket sending faster
 * than its token bucket allows, or sending refused messages again and again, is closed with 1008.
 *
 * Deno.upgradeWebSocket has no maximum message size (denoland/deno#15809, open): the runtime has read a
 * message (up to its own fixed cap) before the first line of ours runs, so the cap here bounds what we parse
 * and keep, not what is read off the wire. With the connection guard in front (src/conn_guard.ts), a message
 * over the cap is stopped at its frame header before its payload reaches the server (src/ws_frames.ts).
 */
import type { Config } from "./config.ts";
import { ForbiddenError } from "./errors.ts";

/** Largest message (in bytes) a socket may send; a bigger one closes it with 1009. */
export const SOCKET_MAX_MESSAGE_BYTES = 64 * 1024;
/** Messages a socket may send in a burst, and per second after it (a token bucket). */
export const SOCKET_RATE = { burst: 100, perSecond: 50 } as const;
/** Refused messages (error replies) a socket may earn before it is closed with 1008. */
export const SOCKET_MAX_FAULTS = 20;
/** Close code: the message is too big (RFC 6455 7.4.1). */
export const CLOSE_TOO_BIG = 1009;
/** Close code: the peer broke the policy (too many messages, too many refused ones). */
export const CLOSE_POLICY = 1008;

/** A token bucket: `take()` is false once the burst is spent faster than the rate refills it. */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: { burst: number; perSecond: number }, now: () => number = () => performance.now()) {
    this.#burst = rate.burst;
    this.#perMs = rate.perSecond / 1000;
    this.#now = now;
    this.#tokens = rate.burst;
    this.#at = now();
  }

  /** Spends one token; false when none is left. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** True when `data` (a text or binary message) is larger than `max` bytes; never encodes a huge string. */
export function isTooBig(data: unknown, max = SOCKET_MAX_MESSAGE_BYTES): boolean {
  if (typeof data === "string") {
    if (data.length > max) return true; // every UTF-16 unit is at least one UTF-8 byte
    return data.length * 3 > max && new TextEncoder().encode(data).length > max;
  }
  if (data instanceof ArrayBuffer) return data.byteLength > max;
  if (ArrayBuffer.isView(data)) return data.byteLength > max;
  if (data instanceof Blob) return data.size > max;
  return false;
}

/**
 * True when a browser's `Origin` may open a socket: no Origin (not a browser), one listed in ALLOWED_ORIGINS,
 * PUBLIC_URL's origin, or the request's own host when that host name is in ALLOWED_HOSTS (so a rebound DNS
 * name is refused). `null` and malformed origins are refused.
 */
export function isAllowedOrigin(
  config: Pick<Config, "ALLOWED_ORIGINS" | "PUBLIC_URL" | "ALLOWED_HOSTS">,
  origin: string | undefined,
  host: string | undefined,
): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin === "null") return false;
  if (config.ALLOWED_ORIGINS.includes(url.origin)) return true;
  if (config.PUBLIC_URL && new URL(config.PUBLIC_URL).origin === url.origin) return true;
  return !!host && url.host === host.toLowerCase() && config.ALLOWED_HOSTS.includes(url.hostname);
}

/** 403 for a browser upgrade from an origin isAllowedOrigin refuses. */
export function assertSocketOrigin(
  config: Pick<Config, "ALLOWED_ORIGINS" | "PUBLIC_URL" | "ALLOWED_HOSTS">,
  headers: { origin?: string; host?: string },
): void {
  if (!isAllowedOrigin(config, headers.origin, headers.host)) {
    throw new ForbiddenError(
      `Cannot open a socket from origin ${JSON.stringify(headers.origin)}: add it to ALLOWED_ORIGINS`,
    );
  }
}
