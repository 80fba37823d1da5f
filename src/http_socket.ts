/**
 * WebSocket plumbing shared by every socket route (routes/ws.ts and the legacy sockets): authentication
 * before the upgrade, the guard against plain GETs, a JSON peer that stops sending once the socket is
 * gone, ticketed socket URLs, and the wire form of session events (also what SSE sends).
 */
import { type Drain, GOING_AWAY_CLOSE_CODE } from "./drain.ts";
import type { Context, MiddlewareHandler } from "hono";
import type { WSContext, WSEvents } from "hono/ws";
import { z } from "zod";
import { authenticate } from "./auth/middleware.ts";
import type { Principal } from "./auth/principal.ts";
import { issueTicket, redeemTicket } from "./automation/access.ts";
import type { SessionEvent } from "./automation/hub.ts";
import { FINAL_STATUSES, type SessionStatus } from "./automation/sessions.ts";
import type { Deps } from "./deps.ts";
import { AppError, UnauthorizedError } from "./errors.ts";
import type { AppEnv } from "./http.ts";
import {
  assertSocketOrigin,
  CLOSE_POLICY,
  CLOSE_TOO_BIG,
  isTooBig,
  SOCKET_MAX_FAULTS,
  SOCKET_MAX_MESSAGE_BYTES,
  SOCKET_RATE,
  TokenBucket,
} from "./socket_guard.ts";

/** Which credentials a socket route takes besides the `Authorization` and `x-api-key` headers. */
export interface SocketAuthOptions {
  /** Accept `?ticket=` tickets issued for this scope (a session id, or ANY_SESSION for /ws). */
  ticketScope?: (c: Context) => string;
  /** Accept `?token=<API key or access token>` (old browser clients cannot set headers). */
  queryToken?: boolean;
}

/**
 * Authenticates a socket request before the upgrade (401 otherwise) and answers 426 to a request that is
 * not an upgrade; the principal goes to `c.var.principal`.
 */
export function socketAuth(deps: Deps, options: SocketAuthOptions = {}): MiddlewareHandler<AppEnv> {
  // Old clients are handed keys and tokens; only the session API hands out tickets.
  const accepted = options.ticketScope && !options.queryToken ? "ticket, API key" : "API key";
  return async (c, next) => {
    const ticket = options.ticketScope ? c.req.query("ticket") : undefined;
    const token = options.queryToken ? c.req.query("token") : undefined;
    const principal = ticket
      ? await redeemTicket(deps, ticket, options.ticketScope!(c))
      : await authenticate(deps, {
        authorization: token ? `Bearer ${token}` : c.req.header("authorization"),
        apiKey: c.req.header("x-api-key"),
      });
    if (!principal) throw new UnauthorizedError(`A valid ${accepted} or Bearer access token is required`);
    requireUpgrade(c, deps);
    c.set("principal", principal);
    await next();
  };
}

/** cluster: the close code of a socket whose login was revoked (logout anywhere in the service). */
export const LOGGED_OUT_CLOSE_CODE = 4401;

/** Runs `end` once if the caller's login is revoked on any instance; returns the unwatch function. */
export type LogoutWatch = (end: () => void) => () => void;

/** The logout watch of `principal` (none for API keys, whose sockets live until they close). */
export function logoutWatch(deps: Pick<Deps, "logins">, principal: Principal): LogoutWatch | undefined {
  if (principal.kind !== "user" || !deps.logins) return undefined;
  const logins = deps.logins;
  return (end) => logins.watch(principal.sessionId, () => end());
}

/**
 * 426 for a request to a socket route that is not a WebSocket upgrade; 403 for a browser's upgrade from an
 * origin that is not allowed (ALLOWED_ORIGINS, PUBLIC_URL, or the own host when in ALLOWED_HOSTS).
 */
export function requireUpgrade(c: Context, deps: Pick<Deps, "config">): void {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, "Upgrade Required", "This endpoint speaks WebSocket only", {}, {
      upgrade: "websocket",
    });
  }
  assertSocketOrigin(deps.config, { origin: c.req.header("origin"), host: c.req.header("host") });
}

/** True when a socket request carries any credential socketAuth reads (header, `?token=`, `?ticket=`). */
export function hasSocketCredentials(c: Context): boolean {
  return [
    c.req.header("authorization"),
    c.req.header("x-api-key"),
    c.req.query("token"),
    c.req.query("ticket"),
  ]
    .some((v) => v !== undefined);
}

/** The sending side of an open socket, as the socket's protocol code sees it. */
export interface JsonPeer<T> {
  /** Sends `msg` as JSON text; dropped once the socket is closing or closed. */
  send(msg: T): void;
  close(code?: number, reason?: string): void;
  /** Counts a refused message; after SOCKET_MAX_FAULTS of them the socket is closed with 1008. */
  fault(): void;
  /** False once the socket has ended (queued messages need no work then). */
  readonly open: boolean;
}

/** What a socket protocol does with what arrives: each text or binary message, and the end (once). */
export interface SocketHandler {
  message?(data: unknown): void | Promise<void>;
  close?(): void;
}

/**
 * Hono socket events for a protocol: `open(peer)` runs when the socket opens and returns the handler of
 * its messages; the handler's `close` runs once, on close or on error, and nothing is sent after it.
 */
export function jsonSocket<T>(
  open: (peer: JsonPeer<T>) => SocketHandler,
  options: { logout?: LogoutWatch; drain?: Drain } = {},
): WSEvents {
  let handler: SocketHandler = {};
  let ended = false;
  let unwatch: (() => void) | undefined;
  let undrain: (() => void) | undefined;
  let faults = 0;
  const bucket = new TokenBucket(SOCKET_RATE);
  const end = () => {
    if (ended) return;
    ended = true;
    unwatch?.();
    undrain?.();
    handler.close?.();
  };
  /** Closes `ws` with `code` and ends the protocol at once (nothing more is read or sent). */
  const hangUp = (ws: WSContext, code: number, reason: string) => {
    if (ws.readyState <= 1) ws.close(code, reason);
    end();
  };
  return {
    onOpen(_evt, ws: WSContext) {
      unwatch = options.logout?.(() => hangUp(ws, LOGGED_OUT_CLOSE_CODE, "logged out"));
      // shutdown: 1001 tells the client to reconnect (to another instance) and resume after its last seq
      undrain = options.drain?.watch(() => hangUp(ws, GOING_AWAY_CLOSE_CODE, "server shutting down"));
      handler = open({
        send: (msg) => {
          if (!ended && ws.readyState === 1) ws.send(JSON.stringify(msg));
        },
        close: (code, reason) => ws.close(code, reason),
        fault: () => {
          if (++faults >= SOCKET_MAX_FAULTS) hangUp(ws, CLOSE_POLICY, "too many refused messages");
        },
        get open() {
          return !ended;
        },
      });
    },
    async onMessage(evt, ws) {
      if (ended) return;
      // Checked before anything parses the message (the runtime has already read it: see socket_guard.ts).
      if (isTooBig(evt.data)) {
        return hangUp(ws, CLOSE_TOO_BIG, `message over ${SOCKET_MAX_MESSAGE_BYTES} bytes`);
      }
      if (!bucket.take()) return hangUp(ws, CLOSE_POLICY, "too many messages");
      await handler.message?.(evt.data);
    },
    onClose: end,
    onError: end,
  };
}

/**
 * The origin links are built on: PUBLIC_URL, else the request's own origin when its host name is in
 * ALLOWED_HOSTS (a forged Host never reaches a link), else http://localhost:PORT.
 */
export function publicOrigin(deps: Pick<Deps, "config">, c: Context): string {
  if (deps.config.PUBLIC_URL) return deps.config.PUBLIC_URL;
  const url = new URL(c.req.url);
  if (deps.config.ALLOWED_HOSTS.includes(url.hostname.toLowerCase())) return url.origin;
  return `http://localhost:${deps.config.PORT}`;
}

/** The server's base URL as clients reach it (http, never ws): publicOrigin without a trailing slash. */
export function publicBase(deps: Pick<Deps, "config">, c: Context): string {
  return publicOrigin(deps, c).replace(/\/+$/, "");
}

/** The socket URL of a session (or of /ws for `"*"`), with a fresh 60 s ticket. */
export async function socketUrl(deps: Deps, c: Context, principal: Principal, sessionId: string | "*") {
  const base = publicOrigin(deps, c).replace(/\/+$/, "").replace(/^http/, "ws");
  const ticket = await issueTicket(deps, principal, sessionId);
  const path = sessionId === "*" ? "/ws" : `/api/v1/sessions/${sessionId}/ws`;
  return `${base}${path}?ticket=${encodeURIComponent(ticket)}`;
}

/** The answer to a prompt, as `POST /api/v1/sessions/:id/input` and a socket's `input` message carry it. */
export const answerBody = z.object({
  prompt: z.string().min(1).max(100),
  value: z.union([z.string().max(1000), z.record(z.string(), z.unknown())]),
});

/** A stored or live event as a client message (WebSocket and SSE): `{type, seq, at, ...data}`. */
export function eventMessage(event: SessionEvent): Record<string, unknown> {
  return { ...event.data, type: event.type, seq: event.seq, at: event.at };
}

/** True for the event that ends a session's stream. */
export function isFinalEvent(event: SessionEvent): boolean {
  return event.type === "status" && FINAL_STATUSES.includes(event.data.status as SessionStatus);
}
