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
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSEvents } from "hono/ws";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import type { Principal } from "../src/auth/principal.ts";
import { ANY_SESSION, ownerOf, TICKET_TTL_S, visibleSession } from "../src/automation/access.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import { FINAL_STATUSES, type SessionView } from "../src/automation/sessions.ts";
import type { Deps } from "../src/deps.ts";
import { AppError, toProblem, ValidationError } from "../src/errors.ts";
import type { AppEnv } from "../src/http.ts";
import { parseOrThrow } from "../src/http.ts";
import {
  answerBody,
  eventMessage,
  isFinalEvent,
  type JsonPeer,
  jsonSocket,
  logoutWatch,
  socketAuth,
  socketUrl,
} from "../src/http_socket.ts";

const clientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("start"), flow: z.string().min(1).max(100), input: z.unknown().optional() }),
  z.object({ type: z.literal("input"), ...answerBody.shape }),
  z.object({ type: z.literal("cancel") }),
]);

/** Largest client message accepted on a socket. */
const MAX_MESSAGE_CHARS = 64 * 1024;

/** The socket behaviour shared by attach and start. */
function socketEvents(
  deps: Deps,
  principal: Principal,
  attachTo?: { id: string; after: number; view: SessionView },
): WSEvents {
  const sessions = requireAutomation(deps).sessions;
  return jsonSocket((peer: JsonPeer<Record<string, unknown>>) => {
    let sessionId: string | undefined;
    let off: (() => void) | undefined;
    const refuse = (err: unknown) => {
      const { problem } = toProblem(err);
      if (problem.status >= 500) {
        deps.log.error("socket message failed", { session_id: sessionId, error: err });
      }
      const { type: _t, instance: _i, ...rest } = problem;
      peer.send({ ...rest, type: "error", seq: null });
    };
    const attach = (id: string, after: number) => {
      sessionId = id;
      off = sessions.subscribe(id, after, (event) => {
        peer.send(eventMessage(event));
        if (isFinalEvent(event)) peer.close(1000, "session ended");
      });
    };
    const view = attachTo?.view;
    if (view && FINAL_STATUSES.includes(view.status) && view.seq <= attachTo.after) {
      // Nothing left to follow: say where it stands and hang up.
      peer.send({
        type: "status",
        seq: view.seq,
        status: view.status,
        ...(view.error ? { error: view.error } : {}),
      });
      peer.close(1000, "session ended");
    } else if (attachTo) attach(attachTo.id, attachTo.after);
    return {
      async message(data) {
        try {
          if (typeof data !== "string" || data.length > MAX_MESSAGE_CHARS) {
            throw new ValidationError([{
              field: "(message)",
              message: "must be a JSON text message up to 64 KiB",
            }]);
          }
          let raw: unknown;
          try {
            raw = JSON.parse(data);
          } catch {
            throw new ValidationError([{ field: "(message)", message: "is not valid JSON" }]);
          }
          const msg = parseOrThrow(clientMessage, raw, "(message)");
          if (msg.type === "start") {
            if (sessionId) throw new AppError(409, "Conflict", "This socket already follows a session");
            const view = await sessions.start(ownerOf(principal), msg.flow, msg.input ?? {});
            attach(view.id, 0);
            return;
          }
          if (!sessionId) throw new AppError(409, "Conflict", 'Start a session first: {"type":"start",…}');
          if (msg.type === "input") await sessions.answer(sessionId, msg.prompt, msg.value);
          else await sessions.cancel(sessionId);
        } catch (err) {
          refuse(err);
        }
      },
      close: () => off?.(),
    };
  }, { logout: logoutWatch(deps, principal), drain: deps.drain });
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
      socketAuth(deps, { ticketScope: () => ANY_SESSION }),
      upgradeWebSocket((c) => {
        requireAutomation(deps);
        return socketEvents(deps, c.get("principal"));
      }),
    )
    .get(
      "/api/v1/sessions/:id/ws",
      socketAuth(deps, { ticketScope: (c) => c.req.param("id") ?? "" }),
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
