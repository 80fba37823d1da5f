/**
 * Every old client's exact routes, each module a thin adapter at its real prefix (the protocols live in
 * src/): the mobile apps' login and device routes, the trackers' /fota.php and /qussd.php, the old
 * Flussonic backend /api/accessfl, and the old automation clients (/ws/legacy, the tax portal's
 * /captcha/ + /enable_api/:token, the booking frontend's /api/v1/booking/… + /ws/:job_id). Fields are
 * read by readLegacyFields (src/http_legacy.ts): the body wins over the query.
 *
 * No pattern here overlaps another route of the app, so where createApp mounts this does not change
 * which handler answers: `/ws/legacy` and `/ws/<session id>` have a second segment that `GET /ws` lacks,
 * and `/api/<name>` never matches `/api/v1/…`. The one exception is the vehicle app's socket at the root
 * (vehicleRootSocketRoutes), which createApp mounts before the console: it takes only upgrades.
 */
import { Hono } from "hono";
import type { CameraAuth } from "../../src/cameras/media_auth.ts";
import type { AppDeps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { accessflRoutes } from "./accessfl.ts";
import { bookingRoutes, bookingSocketRoutes } from "./booking.ts";
import { fotaPhpRoutes } from "./fota_php.ts";
import { mobileAppRoutes } from "./mobile_app.ts";
import { qussdRoutes } from "./qussd_php.ts";
import { taxPortalRoutes } from "./tax_portal.ts";
import { vehicleSocketRoutes } from "./vehicle_socket.ts";

export { vehicleRootSocketRoutes } from "./vehicle_socket.ts";

/** The old clients' routes, to mount at the root. */
export function legacyRoutes(deps: AppDeps, options: { cameraAuth: CameraAuth }) {
  return new Hono<AppEnv>()
    .route("/api", mobileAppRoutes(deps))
    .route("/api", accessflRoutes(deps, options.cameraAuth))
    .route("/fota.php", fotaPhpRoutes(deps))
    .route("/qussd.php", qussdRoutes(deps))
    .route("/ws/legacy", vehicleSocketRoutes(deps))
    .route("/ws", bookingSocketRoutes(deps))
    .route("/", taxPortalRoutes(deps))
    .route("/api/v1/booking", bookingRoutes(deps));
}
