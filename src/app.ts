/** createApp(deps): middleware, the one error mapping, and the route modules. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { authRoutes } from "../routes/auth.ts";
import { cameraRoutes } from "../routes/cameras.ts";
import { consoleRoutes } from "../routes/console.ts";
import { devicesRoutes } from "../routes/devices.ts";
import { firmwareRoutes } from "../routes/firmware.ts";
import { flowRoutes } from "../routes/flows.ts";
import { fotaRoutes } from "../routes/fota.ts";
import { healthRoutes } from "../routes/health.ts";
import { legacyRoutes, vehicleRootSocketRoutes } from "../routes/legacy/mod.ts";
import { mediaAuthRoutes } from "../routes/media_auth.ts";
import { otpRoutes } from "../routes/otp.ts";
import { metricsRoutes } from "../routes/metrics.ts";
import { openApiRoutes } from "../routes/openapi.ts";
import { sessionRoutes } from "../routes/sessions.ts";
import { shareRoutes } from "../routes/shares.ts";
import { webhookRoutes } from "../routes/webhooks.ts";
import { smartyardRoutes } from "../routes/smartyard/mod.ts";
import { wsRoutes } from "../routes/ws.ts";
import { CameraAuth } from "./cameras/media_auth.ts";
import { demoPortal } from "./demo/mod.ts";
import { bodyTimeout } from "./body_timeout.ts";
import { type Deps, withAppDefaults } from "./deps.ts";
import { NotFoundError, PayloadTooLargeError, problemResponse, toProblem } from "./errors.ts";
import type { AppEnv } from "./http.ts";
import { appMetrics, requestDone, routeOf } from "./app_metrics.ts";
import { mediaAuthFastPath } from "./cameras/fast_path.ts";

/** Headers of every HTML answer. */
const HTML_SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};

/** An x-request-id a client may choose (otherwise one is made). */
const REQUEST_ID = /^[\w.-]{1,128}$/;

/** Adds HTML_SECURITY_HEADERS; a page's own CSP (the console's) stays, with frame-ancestors added if missing. */
function secureHtml(headers: Headers): void {
  for (const [name, value] of Object.entries(HTML_SECURITY_HEADERS)) {
    const own = name === "content-security-policy" && headers.get(name);
    headers.set(name, own ? (/frame-ancestors/.test(own) ? own : `${own}; ${value}`) : value);
  }
}

/** Largest request body accepted anywhere. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Builds the whole HTTP app from injected dependencies; no I/O happens here. Per-app objects that `deps`
 * lacks (startedAt, claimLocks, cameraAuth) are made here, once per app.
 */
export function createApp(injected: Deps): Hono<AppEnv> {
  const deps = withAppDefaults(injected);
  const app = new Hono<AppEnv>();

  // metrics per route pattern; machine-to-machine hot routes log at debug (counted in metrics)
  const cameraAuth = deps.cameraAuth ?? new CameraAuth(deps);
  const metrics = appMetrics(deps, cameraAuth);
  deps.sms = metrics.countingSms(deps.sms);
  // One global middleware, so a request pays for one layer: request id, then (only when there is a body) its
  // size limit and arrival deadline, the route, security headers on pages, metrics and the log line.
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => {
      const { problem, headers } = toProblem(new PayloadTooLargeError(MAX_BODY_BYTES), c.req.path);
      return problemResponse(problem, headers);
    },
  });
  const timeBody = bodyTimeout(deps.config.REQUEST_BODY_TIMEOUT_MS); // slow clients (issue 15, item 8)
  app.use(async (c, next) => {
    const started = performance.now();
    const incoming = c.req.raw.headers.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    if (c.req.raw.body) {
      await timeBody(c, async () => {
        const refused = await limitBody(c, next); // a declared length over the limit: answered at once
        if (refused instanceof Response && refused !== c.res) c.res = refused;
      });
    } else await next();
    const res = c.res;
    try {
      res.headers.set("x-request-id", requestId); // the handler's own Response: its headers are mutable
    } catch {
      c.header("x-request-id", requestId); // an immutable one (a proxied fetch): Hono copies it
    }
    // Pages (console, demo, docs) may not be framed or sniffed, and leak no referrer.
    if (c.res.headers.get("content-type")?.startsWith("text/html")) secureHtml(c.res.headers);
    requestDone(metrics, deps.log, {
      method: c.req.method,
      route: routeOf(c),
      path: c.get("logPath") ?? c.req.path,
      status: c.res.status,
      ms: performance.now() - started,
      requestId,
    });
  });

  // Web console, health, phone login and sessions. The vehicle app's old socket is `ws://host/`: a root
  // WebSocket upgrade goes to it (routes/legacy/vehicle_socket.ts), any other GET / to the console.
  app.route("/", vehicleRootSocketRoutes(deps));
  app.route("/", consoleRoutes(deps));
  app.route("/", openApiRoutes(deps, () => app)); // /openapi.json and /docs
  app.route("/", metricsRoutes(deps, metrics)); // /metrics
  app.route("/health", healthRoutes(deps));
  app.route("/api/v1/otp", otpRoutes(deps));
  app.route("/api/v1", authRoutes(deps));
  if (deps.config.DEMO_PORTAL) app.route("/demo", demoPortal({ now: () => deps.clock.now().getTime() }));

  // Firmware: catalog (admin) and device checks (no token).
  app.route("/api/v1/firmware", firmwareRoutes(deps));
  app.route("/api/v1/fota", fotaRoutes(deps));

  // Devices.
  app.route("/api/v1/devices", devicesRoutes(deps));

  // Browser automation: sockets (/ws, /api/v1/sessions/:id/ws), flows, sessions.
  app.route("/", wsRoutes(deps));
  app.route("/api/v1/flows", flowRoutes(deps));
  app.route("/api/v1/sessions", sessionRoutes(deps));
  app.route("/", shareRoutes(deps)); // share links and their guests (issue 13)
  app.route("/api/v1/webhooks", webhookRoutes(deps)); // webhooks: subscriptions

  // Cameras, and the media-server auth backend.
  app.route("/api/v1", cameraRoutes(deps));
  app.route("/api/v1/media", mediaAuthRoutes(deps, cameraAuth));
  // SmartYard mobile apps: POST <SMARTYARD_PREFIX>user/…, address/…, cctv/…, pay/…; admin at /api/v1/smartyard.
  app.route("/", smartyardRoutes(deps));

  // Old clients' exact routes (routes/legacy/): /api/otprequest, /api/otpverify, /api/device,
  // /api/checkDeviceInfo, /api/accessfl, /fota.php, /qussd.php, /ws/legacy, /captcha/, /enable_api/:token,
  // /api/v1/booking/…, /ws/:job_id. None overlaps a pattern above, so mounting them last changes nothing.
  app.route("/", legacyRoutes(deps, { cameraAuth }));

  app.notFound((c) => {
    const { problem } = toProblem(
      new NotFoundError(`No route for ${c.req.method} ${c.req.path}`),
      c.req.path,
    );
    return problemResponse(problem);
  });
  app.onError((err, c) => {
    const { problem, headers } = toProblem(err, c.req.path);
    if (problem.status >= 500) {
      deps.log.error("unhandled error", { path: c.req.path, request_id: c.get("requestId"), error: err });
    }
    return problemResponse(problem, headers);
  });
  // The Flussonic play check is answered before the router (src/cameras/fast_path.ts): same decision,
  // metrics and logs, a fraction of the per-request cost.
  const fast = mediaAuthFastPath(deps, cameraAuth, metrics);
  const routed = app.fetch;
  app.fetch = (req, ...rest) => fast(req) ?? routed(req, ...rest);
  return app;
}
