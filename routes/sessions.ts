/**
 * Automation sessions over REST: start, read (with long-poll), answer prompts, cancel, the event log
 * (JSON or SSE), the prompt image and artifacts. The WebSocket surface is in routes/ws.ts.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import { apiKeyIdOf, ownerOf, visibleSession } from "../src/automation/access.ts";
import { afterQuery, longPoll, longPollQuery, withDrain } from "../src/automation/long_poll.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import { FINAL_STATUSES, SESSION_STATUSES } from "../src/automation/sessions.ts";
import type { Deps } from "../src/deps.ts";
import { NotFoundError } from "../src/errors.ts";
import { type AppEnv, validate } from "../src/http.ts";
import { answerBody, eventMessage, isFinalEvent, logoutWatch, socketUrl } from "../src/http_socket.ts";

/** The body of POST /api/v1/sessions. */
export const startBody = z.object({
  flow: z.string().min(1).max(100),
  input: z.unknown().optional(),
  webhook_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});

const statusList = z.string().max(200).transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(SESSION_STATUSES)));

/** Seconds between SSE heartbeat comments. */
export const SSE_HEARTBEAT_S = 15;

/** Session routes, mounted at /api/v1/sessions. */
export function sessionRoutes(deps: Deps) {
  const auth = requireAuth(deps);
  const sessions = () => requireAutomation(deps).sessions;
  return new Hono<AppEnv>()
    .post("/", auth, validate("json", startBody), async (c) => {
      const body = c.req.valid("json");
      const principal = c.get("principal");
      const view = await sessions().start(ownerOf(principal), body.flow, body.input ?? {}, {
        webhookUrl: body.webhook_url,
        apiKeyId: apiKeyIdOf(principal),
      });
      c.header("location", `/api/v1/sessions/${view.id}`);
      return c.json({ ...view, ws_url: await socketUrl(deps, c, principal, view.id) }, 201);
    })
    .get(
      "/",
      auth,
      validate(
        "query",
        z.object({
          status: statusList.optional(),
          limit: z.coerce.number().int().min(1).max(200).optional(),
        }),
      ),
      async (c) => {
        const q = c.req.valid("query");
        const principal = c.get("principal");
        const list = await sessions().list({
          owner: principal.kind === "admin" ? undefined : ownerOf(principal),
          status: q.status,
          limit: q.limit,
        });
        return c.json({ sessions: list });
      },
    )
    .get(
      "/:id",
      auth,
      validate("query", longPollQuery),
      async (c) => {
        const view = await visibleSession(deps, c.get("principal"), c.req.param("id"));
        return c.json(
          await longPoll(sessions(), view, c.req.valid("query"), withDrain(deps, c.req.raw.signal)),
        );
      },
    )
    .post("/:id/input", auth, validate("json", answerBody), async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      const body = c.req.valid("json");
      await sessions().answer(id, body.prompt, body.value);
      return c.json({ status: "accepted", prompt: body.prompt }, 202);
    })
    .delete("/:id", auth, async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      return c.json(await sessions().cancel(id));
    })
    .get("/:id/events", auth, validate("query", afterQuery), async (c) => {
      const id = c.req.param("id");
      const view = await visibleSession(deps, c.get("principal"), id);
      const lastEventId = c.req.header("last-event-id");
      const after = lastEventId && /^\d+$/.test(lastEventId)
        ? Number(lastEventId)
        : c.req.valid("query").after ?? 0;
      if (!(c.req.header("accept") ?? "").includes("text/event-stream")) {
        const events = await sessions().events(id, after);
        return c.json({ events, seq: view.seq, status: view.status });
      }
      return streamSSE(c, async (stream) => {
        if (FINAL_STATUSES.includes(view.status) && view.seq <= after) return;
        let end!: () => void;
        const ended = new Promise<void>((resolve) => (end = resolve));
        let writing = Promise.resolve();
        const write = (fn: () => Promise<unknown>) => {
          writing = writing.then(fn).then(() => {}, () => end());
        };
        const off = sessions().subscribe(id, after, (event) => {
          write(() =>
            stream.writeSSE({
              id: event.ephemeral ? undefined : String(event.seq),
              event: event.type,
              data: JSON.stringify(eventMessage(event)),
            })
          );
          if (isFinalEvent(event)) write(() => Promise.resolve(end()));
        });
        const heartbeat = setInterval(
          () => write(() => stream.write(": heartbeat\n\n")),
          SSE_HEARTBEAT_S * 1000,
        );
        stream.onAbort(() => end());
        // cluster: a logout anywhere ends the stream with a final `logged_out` event (clients must not reconnect).
        const unwatch = logoutWatch(deps, c.get("principal"))?.(() => {
          write(() => stream.writeSSE({ event: "logged_out", data: JSON.stringify({ type: "logged_out" }) }));
          write(() => Promise.resolve(end()));
        });
        // shutdown: the stream ends; EventSource reconnects (to another instance) with Last-Event-ID
        const undrain = deps.drain?.watch(() => write(() => Promise.resolve(end())));
        try {
          await ended;
        } finally {
          undrain?.();
          unwatch?.();
          off();
          clearInterval(heartbeat);
          await writing;
        }
      });
    })
    .get("/:id/image", auth, async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      const png = await sessions().image(id);
      if (!png) throw new NotFoundError(`Session ${id} has no prompt image now`);
      return c.body(png as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "image/png",
        "cache-control": "no-store",
      });
    })
    .get("/:id/artifacts", auth, async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      return c.json({ artifacts: await sessions().artifacts(id) });
    })
    .get("/:id/artifacts/:name", auth, async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      const { bytes, contentType } = await sessions().artifact(id, c.req.param("name"));
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": contentType,
        "content-disposition": `attachment; filename="${c.req.param("name")}"`,
      });
    });
}
