/**
 * Share links (src/automation/shares.ts): POST /api/v1/sessions/:id/share makes a one-time link, POST
 * /api/v1/shares/redeem burns it for a guest token, and /api/v1/shared/:id/… is what that token may do with
 * its one session: read it (with long-poll), its events, answer prompts, its artifacts, a socket ticket.
 * The guest's socket itself is in routes/ws.ts (/api/v1/shared/:id/ws).
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import { ownerOf, visibleSession } from "../src/automation/access.ts";
import { afterQuery, longPoll, longPollQuery, withDrain } from "../src/automation/long_poll.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import { createShare, guestScope, guestTicket, redeemShare } from "../src/automation/shares.ts";
import type { Deps } from "../src/deps.ts";
import { UnauthorizedError } from "../src/errors.ts";
import { type AppEnv, validate } from "../src/http.ts";
import { answerBody, publicBase } from "../src/http_socket.ts";

/** Lets a request through only with `Authorization: Bearer <guest token>` for the `:id` in its path. */
function guestAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const bearer = c.req.header("authorization")?.match(/^Bearer (\S{1,4096})$/)?.[1];
    if (!bearer || (await guestScope(deps, bearer)) !== c.req.param("id")) {
      throw new UnauthorizedError("A guest token from a share link for this session is required");
    }
    requireAutomation(deps);
    await next();
  };
}

/** Share-link routes, mounted at the root. */
export function shareRoutes(deps: Deps) {
  const guest = guestAuth(deps);
  const sessions = () => requireAutomation(deps).sessions;
  return new Hono<AppEnv>()
    .post("/api/v1/sessions/:id/share", requireAuth(deps), async (c) => {
      const id = c.req.param("id");
      await visibleSession(deps, c.get("principal"), id);
      const { token, expiresIn } = await createShare(deps, id, ownerOf(c.get("principal")));
      return c.json({ url: `${publicBase(deps, c)}/#/share/${token}`, expires_in: expiresIn }, 201);
    })
    .post(
      "/api/v1/shares/redeem",
      validate("json", z.object({ token: z.string().min(20).max(200) })),
      async (c) => {
        const share = await redeemShare(deps, c.req.valid("json").token);
        c.header("cache-control", "no-store");
        return c.json({
          session_id: share.sessionId,
          access_token: share.guestToken,
          token_type: "Bearer",
          expires_in: share.expiresIn,
        }, 201);
      },
    )
    .get(
      "/api/v1/shared/:id",
      guest,
      validate("query", longPollQuery),
      async (c) => {
        const view = await sessions().get(c.req.param("id"));
        return c.json(
          await longPoll(sessions(), view, c.req.valid("query"), withDrain(deps, c.req.raw.signal)),
        );
      },
    )
    .get(
      "/api/v1/shared/:id/events",
      guest,
      validate("query", afterQuery),
      async (c) => {
        const id = c.req.param("id");
        const view = await sessions().get(id);
        const events = await sessions().events(id, c.req.valid("query").after ?? 0);
        return c.json({ events, seq: view.seq, status: view.status });
      },
    )
    .post("/api/v1/shared/:id/input", guest, validate("json", answerBody), async (c) => {
      const body = c.req.valid("json");
      await sessions().answer(c.req.param("id"), body.prompt, body.value);
      return c.json({ status: "accepted", prompt: body.prompt }, 202);
    })
    .get("/api/v1/shared/:id/artifacts", guest, async (c) => {
      return c.json({ artifacts: await sessions().artifacts(c.req.param("id")) });
    })
    .get("/api/v1/shared/:id/artifacts/:name", guest, async (c) => {
      const { bytes, contentType } = await sessions().artifact(c.req.param("id"), c.req.param("name"));
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": contentType,
        "content-disposition": `attachment; filename="${c.req.param("name")}"`,
      });
    })
    .post("/api/v1/shared/:id/tickets", guest, async (c) => {
      const id = c.req.param("id");
      const base = publicBase(deps, c).replace(/^http/, "ws");
      const ticket = encodeURIComponent(await guestTicket(deps, id));
      return c.json({ ws_url: `${base}/api/v1/shared/${id}/ws?ticket=${ticket}`, expires_in: 60 }, 201);
    });
}
