/**
 * The SmartYard mobile apps' API under SMARTYARD_PREFIX (default /api/: POST /api/user/requestCode, …) in
 * their envelope, and its admin routes under /api/v1/smartyard. README section "SmartYard mobile apps".
 */
import { Hono } from "hono";
import { requireAuth } from "../../src/auth/middleware.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { type SmartyardDeps, smartyardDeps } from "../../src/smartyard/mod.ts";
import { addressRoutes } from "./address.ts";
import { adminHouseRoutes } from "./admin.ts";
import { adminBillingRoutes } from "./admin_billing.ts";
import { envelopeErrors, type SyEnv } from "./http.ts";
import { payRoutes } from "./pay.ts";
import { userRoutes } from "./user.ts";

/** All SmartYard routes with full paths, for `app.route("/", …)`; `sy` may be shared with the settler. */
export function smartyardRoutes(deps: Deps, sy: SmartyardDeps = smartyardDeps(deps)) {
  const apps = new Hono<SyEnv>()
    .route("/", userRoutes(sy))
    .route("/", addressRoutes(sy))
    .route("/", payRoutes(sy));
  // Set before mounting: route() wraps each handler with the sub-app's error handler at mount time.
  apps.onError(envelopeErrors(deps));
  const prefix = deps.config.SMARTYARD_PREFIX.replace(/\/$/, "") || "/";
  const admin = new Hono<AppEnv>()
    .use(requireAuth(sy, ["admin"]))
    .route("/", adminHouseRoutes(sy))
    .route("/", adminBillingRoutes(sy));
  return new Hono<AppEnv>().route(prefix, apps).route("/api/v1/smartyard", admin);
}
