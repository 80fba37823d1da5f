/**
 * WebSockets: GET /api/v1/sessions/:id/ws attaches to a session (replays events after `after`, then
 * live); GET /ws starts one with its first message. Auth: `?ticket=` (from POST /api/v1/sessions or
 * POST /api/v1/ws/tickets) or the usual headers. The session outlives the socket: re-attach at will.
 *
 * Server messages: `{type, seq, at, ...}` for each session event (status, progress, prompt, image,
 * answer, prompt_closed, artifact, result, error, extended); a refused client message gets
 * `{type: "error", seq: null, status, title, detail}`. Client messages: `{type: "start", flow, input}`
 * (on /ws, once), `{type: "input", prompt, value}`, `{type: "cancel"}`, and the live view's `watch`,
 * `unwatch`, `control` (owner only), `pointer`, `key`, `text` (README "Live view and take-over"). A share
 * link's guest attaches at /api/v1/shared/:id/ws (ticket: routes/shares.ts): no start, cancel or control.
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSEvents } from "hono/ws";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import type { Principal } from "../src/auth/principal.ts";
import { ANY_SESSION, apiKeyIdOf, ownerOf, TICKET_TTL_S, visibleSession } from "../src/automation/access.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import { GUEST_TICKET_AUDIENCE, guestScope } from "../src/automation/shares.ts";
import { FINAL_STATUSES, type SessionView } from "../src/automation/sessions.ts";
import type { Deps } from "../src/deps.ts";
import { AppError, ForbiddenError, toProblem, UnauthorizedError, ValidationError } from "../src/errors.ts";
import type { AppEnv } from "../src/http.ts";
import { parseOrThrow } from "../src/http.ts";
import {
  answerBody,
  eventMessage,
  isFinalEvent,
  type JsonPeer,
  jsonSocket,
  logoutWatch,
  requireUpgrade,
  socketAuth,
  socketUrl,
} from "../src/http_socket.ts";

const clientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("start"), flow: z.string().min(1).max(100), input: z.unknown().optional() }),
  z.object({ type: z.literal("input"), ...answerBody.shape }),
  z.object({ type: z.literal("cancel") }),
  // The live view (src/automation/live_view.ts): watch the tab, hand control over, replay input.
  z.object({ type: z.literal("watch") }),
  z.object({ type: z.literal("unwatch") }),
  z.object({ type: z.literal("control"), enabled: z.boolean() }),
  z.object({
    type: z.literal("pointer"),
    kind: z.enum(["click", "scroll"]),
    x: z.number().min(0).max(10_000),
    y: z.number().min(0).max(10_000),
    dy: z.number().min(-10_000).max(10_000).optional(),
  }),
  z.object({ type: z.literal("key"), key: z.string().min(1).max(20) }),
  z.object({ type: z.literal("text"), text: z.string().min(1).max(1000) }),
]);

const ticketBody = z.object({ session: z.uuid().optional() });

/** Largest client message accepted on a socket. */
const MAX_MESSAGE_CHARS = 64 * 1024;

/** The socket behaviour shared by attach and start; a null principal is a share link's guest (attach only). */
function socketEvents(
  deps: Deps,
  principal: Principal | null,
  attachTo?: { id: string; after: number; view: SessionView },
): WSEvents {
  const { sessions, liveView } = requireAutomation(deps);
  return jsonSocket((peer: JsonPeer<Record<string, unknown>>) => {
    let sessionId: string | undefined;
    let off: (() => void) | undefined;
    let unwatch: (() => void) | undefined;
    const refuse = (err: unknown) => {
      const { problem } = toProblem(err);
      if (problem.status >= 500) {
        deps.log.error("socket message failed", { session_id: sessionId, error: err });
      }
      const { type: _t, instance: _i, ...rest } = problem;
      peer.send({ ...rest, type: "error", seq: null });
      peer.fault();
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
    // Messages are handled one at a time, in order: a click must land before the keys typed after it.
    let queue: Promise<void> = Promise.resolve();
    return {
      message(data) {
        queue = queue.then(() => handle(data));
        return queue;
      },
      close: () => {
        off?.();
        unwatch?.();
      },
    };
    async function handle(data: unknown): Promise<void> {
      if (!peer.open) return; // closed (e.g. for abuse) while this message waited in line
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
          if (sessionId || !principal) {
            throw new AppError(409, "Conflict", "This socket already follows a session");
          }
          const view = await sessions.start(ownerOf(principal), msg.flow, msg.input ?? {}, {
            apiKeyId: apiKeyIdOf(principal),
          });
          attach(view.id, 0);
          return;
        }
        if (!sessionId) throw new AppError(409, "Conflict", 'Start a session first: {"type":"start",…}');
        if (msg.type === "input") await sessions.answer(sessionId, msg.prompt, msg.value);
        else if (msg.type === "cancel") {
          if (!principal) throw new ForbiddenError("A shared link cannot cancel the session");
          await sessions.cancel(sessionId);
        } else if (msg.type === "watch") {
          unwatch ??= liveView.watch(sessionId, {
            frame: (f) => peer.send({ type: "frame", seq: null, ...f }),
            control: (enabled) => peer.send({ type: "control", seq: null, enabled }),
            unavailable: () => peer.send({ type: "live", seq: null, state: "unavailable" }),
          });
        } else if (msg.type === "unwatch") {
          unwatch?.();
          unwatch = undefined;
        } else if (msg.type === "control") {
          const { owner } = await sessions.get(sessionId);
          if (!principal || (ownerOf(principal) !== owner && principal.kind !== "admin")) {
            throw new AppError(403, "Forbidden", "Only the session's owner can hand over control");
          }
          liveView.setControl(sessionId, msg.enabled);
        } else {
          const input = msg.type === "pointer"
            ? { kind: msg.kind, x: msg.x, y: msg.y, dy: msg.dy ?? 0 }
            : msg.type === "key"
            ? { kind: "key" as const, key: msg.key }
            : { kind: "text" as const, text: msg.text };
          if (!await liveView.dispatch(sessionId, input)) {
            throw new AppError(
              409,
              "Conflict",
              "Control of this browser is not handed over (or nobody watches)",
            );
          }
        }
      } catch (err) {
        refuse(err);
      }
    }
  }, { logout: principal ? logoutWatch(deps, principal) : undefined, drain: deps.drain });
}

/** Socket routes, mounted at the root: /ws, /api/v1/sessions/:id/ws and the ticket route. */
export function wsRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .post("/api/v1/ws/tickets", requireAuth(deps), async (c) => {
      requireAutomation(deps);
      // `{"session": id}` gets the socket of one session the caller can see (the console re-attaches so).
      const body = c.req.header("content-type")?.includes("json")
        ? await c.req.json().catch(() => null)
        : null;
      const { session } = parseOrThrow(ticketBody, body ?? {}, "(body)");
      if (session) await visibleSession(deps, c.get("principal"), session);
      return c.json({
        ws_url: await socketUrl(deps, c, c.get("principal"), session ?? ANY_SESSION),
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
    )
    .get(
      // A share link's guest: `?ticket=` from POST /api/v1/shared/:id/tickets (routes/shares.ts).
      "/api/v1/shared/:id/ws",
      async (c, next) => {
        const id = c.req.param("id")!;
        const ticket = c.req.query("ticket") ?? "";
        if ((await guestScope(deps, ticket, GUEST_TICKET_AUDIENCE)) !== id) {
          throw new UnauthorizedError("A valid share ticket is required");
        }
        requireUpgrade(c, deps);
        const after = c.req.query("after") ?? "0";
        if (!/^\d{1,10}$/.test(after)) {
          throw new ValidationError([{ field: "after", message: "must be a sequence number" }]);
        }
        await next();
      },
      upgradeWebSocket(async (c) => {
        const id = c.req.param("id")!;
        const view = await requireAutomation(deps).sessions.get(id);
        return socketEvents(deps, null, { id, after: Number(c.req.query("after") ?? "0"), view });
      }),
    );
}
