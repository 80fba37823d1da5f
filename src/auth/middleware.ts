/** Request authentication: admin API keys and users' Bearer access tokens. */
import type { MiddlewareHandler } from "hono";
import { matchApiKey } from "./api_keys.ts";
import type { Deps } from "../deps.ts";
import { ForbiddenError, UnauthorizedError } from "../errors.ts";
import type { AppEnv } from "../http.ts";
import type { Principal } from "./principal.ts";
import { isSessionActive } from "./sessions.ts";
import { tagAuth } from "../openapi/meta.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Resolves the principal from `Authorization: Bearer …` or `x-api-key`, or returns null. */
export async function authenticate(
  deps: Pick<Deps, "config" | "jwt" | "db" | "logins">,
  headers: { authorization?: string; apiKey?: string },
): Promise<Principal | null> {
  const bearer = headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const apiKeyId = matchApiKey(deps.config.API_KEYS, headers.apiKey) ??
    matchApiKey(deps.config.API_KEYS, bearer);
  if (apiKeyId) return { kind: "admin", apiKeyId };
  if (!bearer) return null;
  const claims = await deps.jwt.verify(bearer);
  // A signed token whose ids are not UUIDs was not made by a login here: refused, never looked up.
  if (!claims || !UUID.test(claims.sub) || !UUID.test(claims.sid)) return null;
  // The login must be live and be the token subject's own (a token naming another user's login is refused).
  if (!(await isSessionActive(deps, claims.sid, claims.sub))) return null;
  return { kind: "user", userId: claims.sub, sessionId: claims.sid };
}

/** Middleware that lets through only the listed kinds of principal and stores it as `c.var.principal`. */
export function requireAuth(
  deps: Pick<Deps, "config" | "jwt" | "db" | "logins">,
  allow: Principal["kind"][] = ["admin", "user"],
): MiddlewareHandler<AppEnv> {
  return tagAuth<MiddlewareHandler<AppEnv>>(async (c, next) => {
    const principal = await authenticate(deps, {
      authorization: c.req.header("authorization"),
      apiKey: c.req.header("x-api-key"),
    });
    if (!principal) throw new UnauthorizedError("A valid API key or Bearer access token is required");
    if (!allow.includes(principal.kind)) {
      throw new ForbiddenError(
        principal.kind === "user" ? "This needs an admin API key" : "This needs a user token",
      );
    }
    c.set("principal", principal);
    await next();
  }, { allow });
}
