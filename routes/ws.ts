/**
 * WebSockets: GET /api/v1/sessions/:id/ws attaches to a session (replays events after `after`, then
 * live); GET /ws starts one with its first message. Auth: `?ticket=` (from POST /api/v1/sessions or
 * POST /api/v1/ws/tickets) or the usual headers. The session outlives the socket: re-attach at will.
 *
 * Server messages: `{type, seq, at, ...}` for each session event (status, progress, prompt, image,
 * answer, prompt_closed, artifact, result, error, extended); a refused client message gets
 * `{type: "error", seq: null, status, title, detail}`. Client messages: `{type: "start", flow, input}`
 * (on /ws, once), `{type: "input", prompt, value}`, `{type: "cancel"}`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSContext, WSEvents } from "hono/ws";
import { z } from "zod";
import { authenticate, requireAuth } from "../src/auth/middleware.ts";
import type { Principal } from "../src/auth/middleware.ts";
import { ANY_SESSION, ownerOf, redeemTicket, TICKET_TTL_S } from "../src/automation/access.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import { FINAL_STATUSES, type SessionView } from "../src/automation/sessions.ts";
import type { Deps } from "../src/deps.ts";
import { AppError, toProblem, UnauthorizedError, ValidationError } from "../src/errors.ts";
import type { AppEnv } from "../src/http.ts";
import { answerBody, eventMessage, isFinalEvent, socketUrl, visibleSession } from "./sessions.ts";

const clientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("start"), flow: z.string().min(1).max(100), input: z.unknown().optional() }),
  z.object({ type: z.literal("input"), ...answerBody.shape }),
  z.object({ type: z.literal("cancel") }),
]);

/** Largest client message accepted on a socket. */
const MAX_MESSAGE_CHARS = 64 * 1024;

/** Authenticates a socket request by `?ticket=` (scoped to `scope(c)`) or by headers; 426 when not an upgrade. */
function socketAuth(deps: Deps, scope: (c: Context) => string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ticket = c.req.query("ticket");
    const principal = ticket ? await redeemTicket(deps, ticket, scope(c)) : await authenticate(deps, {
      authorization: c.req.header("authorization"),
      apiKey: c.req.header("x-api-key"),
    });
    if (!principal) throw new UnauthorizedError("A valid ticket, API key or Bearer access token is required");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError(426, "Upgrade Required", "This endpoint speaks WebSocket only", {}, {
        upgrade: "websocket",
      });
    }
    c.set("principal", principal);
    await next();
  };
}

/** The socket behaviour shared by attach and start. */
function socketEvents(
  deps: Deps,
  principal: Principal,
  attachTo?: { id: string; after: number; view: SessionView },
): WSEvents {
  const sessions = requireAutomation(deps).sessions;
  let sessionId: string | undefined;
  let off: (() => void) | undefined;
  let closed = false;
  const send = (ws: WSContext, msg: Record<string, unknown>) => {
    if (!closed && ws.readyState === 1) ws.send(JSON.stringify(msg));
  };
  const refuse = (ws: WSContext, err: unknown) => {
    const { problem } = toProblem(err);
    if (problem.status >= 500) deps.log.error("socket message failed", { session_id: sessionId, error: err });
    const { type: _t, instance: _i, ...rest } = problem;
    send(ws, { ...rest, type: "error", seq: null });
  };
  const attach = (ws: WSContext, id: string, after: number) => {
    sessionId = id;
    off = sessions.subscribe(id, after, (event) => {
      send(ws, eventMessage(event));
      if (isFinalEvent(event)) ws.close(1000, "session ended");
    });
  };
  return {
    onOpen(_evt, ws) {
      if (!attachTo) return;
      const view = attachTo.view;
      if (FINAL_STATUSES.includes(view.status)) {
        // Nothing left to follow: say where it stands and hang up.
        if (view.seq <= attachTo.after) {
          send(ws, {
            type: "status",
            seq: view.seq,
            status: view.status,
            ...(view.error ? { error: view.error } : {}),
          });
          ws.close(1000, "session ended");
          return;
        }
      }
      attach(ws, attachTo.id, attachTo.after);
    },
    async onMessage(evt, ws) {
      try {
        if (typeof evt.data !== "string" || evt.data.length > MAX_MESSAGE_CHARS) {
          throw new ValidationError([{
            field: "(message)",
            message: "must be a JSON text message up to 64 KiB",
          }]);
        }
        let raw: unknown;
        try {
          raw = JSON.parse(evt.data);
        } catch {
          throw new ValidationError([{ field: "(message)", message: "is not valid JSON" }]);
        }
        const parsed = clientMessage.safeParse(raw);
        if (!parsed.success) {
          throw new ValidationError(
            parsed.error.issues.map((i) => ({ field: i.path.join(".") || "(message)", message: i.message })),
          );
        }
        const msg = parsed.data;
        if (msg.type === "start") {
          if (sessionId) throw new AppError(409, "Conflict", "This socket already follows a session");
          const view = await sessions.start(ownerOf(principal), msg.flow, msg.input ?? {});
          attach(ws, view.id, 0);
          return;
        }
        if (!sessionId) throw new AppError(409, "Conflict", 'Start a session first: {"type":"start",…}');
        if (msg.type === "input") await sessions.answer(sessionId, msg.prompt, msg.value);
        else await sessions.cancel(sessionId);
      } catch (err) {
        refuse(ws, err);
      }
    },
    onClose() {
      closed = true;
      off?.();
    },
    onError() {
      closed = true;
      off?.();
    },
  };
}

/** Socket routes, mounted at the root: /ws, /api/v1/sessions/:id/ws and the ticket route. */
export function wsRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .post("/api/v1/ws/tickets", requireAuth(deps), async (c) => {
      requireAutomation(deps);
      return c.json({
        ws_url: await socketUrl(deps, c, c.get("principal"), ANY_SESSION),
        expires_in: TICKET_TTL_S,
      }, 201);
    })
    .get(
      "/ws",
      socketAuth(deps, () => ANY_SESSION),
      upgradeWebSocket((c) => {
        requireAutomation(deps);
        return socketEvents(deps, c.get("principal"));
      }),
    )
    .get(
      "/api/v1/sessions/:id/ws",
      socketAuth(deps, (c) => c.req.param("id") ?? ""),
      async (c, next) => {
        const after = c.req.query("after") ?? "0";
        if (!/^\d{1,10}$/.test(after)) {
          throw new ValidationError([{ field: "after", message: "must be a sequence number" }]);
        }
        await visibleSession(deps, c.get("principal"), c.req.param("id")!);
        await next();
      },
      upgradeWebSocket(async (c) => {
        const id = c.req.param("id")!;
        const view = await visibleSession(deps, c.get("principal"), id);
        return socketEvents(deps, c.get("principal"), {
          id,
          after: Number(c.req.query("after") ?? "0"),
          view,
        });
      }),
    );
}
