/**
 * The tax-portal client (GST "enable API access"): `GET /captcha/` (or `/captcha`) and
 * `PUT /enable_api/:token`, mounted at the root. The protocol is in src/automation/legacy/tax_portal.ts.
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../src/auth/middleware.ts";
import { enableApi, requestCaptcha } from "../../src/automation/legacy/tax_portal.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";

const enableFields = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(200),
  captcha: z.string().trim().min(1).max(100),
});

/** The tax-portal client's two routes. */
export function taxPortalRoutes(deps: Deps) {
  const auth = requireAuth(deps);
  const app = new Hono<AppEnv>();
  for (const path of ["/captcha/", "/captcha"]) {
    app.get(path, auth, async (c) => {
      const { status, body } = await requestCaptcha(deps, c.get("principal"), c.req.raw.signal);
      return c.json(body, status);
    });
  }
  return app.put("/enable_api/:token", auth, async (c) => {
    const fields = await parseLegacyFields(c, enableFields);
    const { status, body } = await enableApi(deps, c.get("principal"), c.req.param("token"), {
      ...fields,
      signal: c.req.raw.signal,
    });
    return c.json(body, status);
  });
}
