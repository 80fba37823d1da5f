/**
 * The tax-portal client (GST "enable API access"): `GET /captcha/` (or `/captcha`) and
 * `PUT /enable_api/:token`, mounted at the root. The protocol is in src/automation/legacy/tax_portal.ts.
 * An API key or access token is required unless TAX_PORTAL_AUTH=none (the old service had none): then a
 * caller without one is let in, and its token is its credential.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { authenticate, requireAuth } from "../../src/auth/middleware.ts";
import type { Principal } from "../../src/auth/principal.ts";
import { enableApi, requestCaptcha } from "../../src/automation/legacy/tax_portal.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";

const enableFields = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(200),
  captcha: z.string().trim().min(1).max(100),
});

/** TAX_PORTAL_AUTH=none: the principal when the request carries a valid one, else none (no 401). */
function optionalAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = await authenticate(deps, {
      authorization: c.req.header("authorization"),
      apiKey: c.req.header("x-api-key"),
    });
    if (principal) c.set("principal", principal);
    await next();
  };
}

/** The tax-portal client's two routes. */
export function taxPortalRoutes(deps: Deps) {
  const auth = deps.config.TAX_PORTAL_AUTH === "none" ? optionalAuth(deps) : requireAuth(deps);
  const caller = (c: { get(key: "principal"): Principal | undefined }) => c.get("principal") ?? null;
  const app = new Hono<AppEnv>();
  for (const path of ["/captcha/", "/captcha"]) {
    app.get(path, auth, async (c) => {
      const { status, body } = await requestCaptcha(deps, caller(c), c.req.raw.signal);
      return c.json(body, status);
    });
  }
  return app.put("/enable_api/:token", auth, async (c) => {
    const fields = await parseLegacyFields(c, enableFields);
    const { status, body } = await enableApi(deps, caller(c), c.req.param("token"), {
      ...fields,
      signal: c.req.raw.signal,
    });
    return c.json(body, status);
  });
}
