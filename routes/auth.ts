/** Sessions: POST /api/v1/auth/refresh, POST /api/v1/auth/logout, GET /api/v1/me. */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../src/auth/middleware.ts";
import { refreshSession, revokeSession } from "../src/auth/sessions.ts";
import { currentUser } from "../src/auth/users.ts";
import type { Deps } from "../src/deps.ts";
import { NotFoundError } from "../src/errors.ts";
import { type AppEnv, validate } from "../src/http.ts";

/** Auth routes: rotate refresh tokens, log out, and say who the caller is. */
export function authRoutes(deps: Deps) {
  const userOnly = requireAuth(deps, ["user"]);
  return new Hono<AppEnv>()
    .post(
      "/auth/refresh",
      validate("json", z.object({ refresh_token: z.string().min(1).max(512) })),
      async (c) => {
        return c.json(await refreshSession(deps, c.req.valid("json").refresh_token));
      },
    )
    .post("/auth/logout", userOnly, async (c) => {
      const p = c.get("principal");
      if (p.kind === "user") await revokeSession(deps, p.sessionId, "logout");
      return c.body(null, 204);
    })
    .get("/me", userOnly, async (c) => {
      const p = c.get("principal");
      if (p.kind !== "user") throw new NotFoundError();
      return c.json(await currentUser(deps, p));
    });
}
