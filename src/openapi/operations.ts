/**
 * One line per documented operation: "METHOD /path" → summary (and, where `requireAuth` does not say it,
 * how the caller authenticates). Request schemas and admin/user auth come from the routes' own middleware;
 * a mounted route missing here is reported by name by tests/openapi_test.ts. Add new routes here.
 */

/** How a route authenticates when it does not use `requireAuth` (which the generator reads by itself). */
export type OtherAuth =
  | "none"
  | "client_secret"
  | "camera_token"
  | "ws_ticket"
  | "smartyard_token"
  | "bank_callback"
  | "share_guest";

/** What the table says about one operation. */
export interface OperationInfo {
  summary: string;
  auth?: OtherAuth;
  /** An old client's exact route (routes/legacy/, the SmartYard apps' API): kept as is, never changed. */
  legacy?: boolean;
}

const L = { legacy: true } as const;

/** The documented operations; `sy` is SMARTYARD_PREFIX (where the SmartYard apps' API is mounted). */
export function operationTable(sy = "/api/"): Record<string, OperationInfo> {
  const app = (summary: string, auth: OtherAuth = "smartyard_token") => ({ summary, auth, ...L });
  return {
    "GET /": { summary: "The web console (HTML)", auth: "none" },
    "GET /console/settings.json": {
      summary: "The console's settings (demo hints, share-link lifetime)",
      auth: "none",
    },
    "GET /console/:file": { summary: "The console's static ES modules and stylesheet", auth: "none" },
    "GET /health": { summary: "Liveness", auth: "none" },
    "GET /health/detailed": { summary: "Readiness: database reachability and latency", auth: "none" },
    "GET /openapi.json": { summary: "This OpenAPI 3.1 document", auth: "none" },
    "GET /docs": { summary: "Interactive API reference (HTML)", auth: "none" },
    "GET /metrics": { summary: "Prometheus metrics (METRICS_TOKEN or an admin API key)" },
    // phone login
    "POST /api/v1/otp/request": { summary: "Send a one-time code by SMS", auth: "none" },
    "POST /api/v1/otp/verify": { summary: "Verify a code; answers a token pair", auth: "none" },
    "POST /api/v1/auth/refresh": { summary: "Rotate a refresh token", auth: "none" },
    "POST /api/v1/auth/logout": { summary: "End the current session" },
    "GET /api/v1/me": { summary: "The signed-in user" },
    // firmware and fota
    "POST /api/v1/firmware": { summary: "Add a firmware release" },
    "GET /api/v1/firmware": { summary: "List firmware releases" },
    "GET /api/v1/firmware/:id": { summary: "A firmware release" },
    "PATCH /api/v1/firmware/:id": { summary: "Change a firmware release (rollout, state)" },
    "DELETE /api/v1/firmware/:id": { summary: "Delete a firmware release" },
    "GET /api/v1/firmware/:id/stats": { summary: "A release's rollout statistics" },
    "GET /api/v1/fota/check": { summary: "Device update check", auth: "none" },
    "GET /api/v1/fota/esp": { summary: "ESP update check", auth: "none" },
    "GET /api/v1/fota/devices/:device_id": { summary: "A device's firmware history" },
    // devices
    "POST /api/v1/devices/check": { summary: "Whether an IMEI can be claimed" },
    "POST /api/v1/devices": { summary: "Claim a device" },
    "GET /api/v1/devices": { summary: "List devices" },
    "GET /api/v1/devices/:id": { summary: "A device" },
    "PATCH /api/v1/devices/:id": { summary: "Change a device" },
    "DELETE /api/v1/devices/:id": { summary: "Release a device" },
    "GET /api/v1/devices/:id/events": { summary: "A device's recent events" },
    "POST /api/v1/devices/:id/commands": { summary: "Send a command to a device" },
    "POST /api/v1/devices/:id/schedules": { summary: "Schedule a command" },
    "GET /api/v1/devices/:id/schedules": { summary: "List a device's schedules" },
    "DELETE /api/v1/devices/:id/schedules/:sid": { summary: "Delete a schedule" },
    // automation
    "POST /api/v1/ws/tickets": { summary: "A one-use WebSocket ticket (60 s)" },
    // webhook subscriptions (admin)
    "POST /api/v1/webhooks": { summary: "Subscribe a URL to events (the signing secret is shown once)" },
    "GET /api/v1/webhooks": { summary: "List webhook subscriptions" },
    "GET /api/v1/webhooks/:id": { summary: "One webhook subscription" },
    "PATCH /api/v1/webhooks/:id": { summary: "Change a subscription's URL, events or enabled flag" },
    "DELETE /api/v1/webhooks/:id": { summary: "Delete a subscription" },
    "POST /api/v1/webhooks/:id/rotate-secret": {
      summary: "New signing secret (the old one signs too for 24 h)",
    },
    "GET /api/v1/webhooks/:id/deliveries": { summary: "A subscription's messages and their attempts" },
    "POST /api/v1/webhooks/:id/deliveries/:delivery_id/retry": { summary: "Deliver a message again" },
    // share links: one-time, expiring; the guest token they give reaches one session
    "POST /api/v1/sessions/:id/share": {
      summary: "Make a one-time share link for a session (owner or admin)",
    },
    "POST /api/v1/shares/redeem": { summary: "Burn a share link for a guest token", auth: "none" },
    "GET /api/v1/shared/:id": { summary: "The shared session (long-poll with after)", auth: "share_guest" },
    "GET /api/v1/shared/:id/events": { summary: "The shared session's events (SSE)", auth: "share_guest" },
    "POST /api/v1/shared/:id/input": { summary: "Answer the shared session's prompt", auth: "share_guest" },
    "GET /api/v1/shared/:id/artifacts": { summary: "The shared session's artifacts", auth: "share_guest" },
    "GET /api/v1/shared/:id/artifacts/:name": {
      summary: "One artifact of the shared session",
      auth: "share_guest",
    },
    "POST /api/v1/shared/:id/tickets": { summary: "A ticket for the guest's WebSocket", auth: "share_guest" },
    "GET /api/v1/shared/:id/ws": {
      summary: "WebSocket: follow (and live-view) the shared session",
      auth: "ws_ticket",
    },
    "GET /ws": { summary: "WebSocket: start and follow sessions", auth: "ws_ticket" },
    "GET /api/v1/sessions/:id/ws": { summary: "WebSocket: follow one session", auth: "ws_ticket" },
    "GET /api/v1/flows": { summary: "Flows sessions can run, with their input schemas" },
    "POST /api/v1/sessions": { summary: "Start a session" },
    "GET /api/v1/sessions": { summary: "List sessions" },
    "GET /api/v1/sessions/:id": { summary: "A session (long-poll with ?wait_after=seq)" },
    "POST /api/v1/sessions/:id/input": { summary: "Answer the session's prompt" },
    "DELETE /api/v1/sessions/:id": { summary: "Cancel a session" },
    "GET /api/v1/sessions/:id/events": { summary: "A session's events (JSON, or SSE)" },
    "GET /api/v1/sessions/:id/image": { summary: "The current prompt's image" },
    "GET /api/v1/sessions/:id/artifacts": { summary: "List a session's artifacts" },
    "GET /api/v1/sessions/:id/artifacts/:name": { summary: "Download an artifact" },
    // cameras and media auth
    "GET /api/v1/cameras": { summary: "List cameras (admin: all; user: granted)" },
    "POST /api/v1/cameras": { summary: "Add a camera" },
    "POST /api/v1/cameras/token": { summary: "A camera token for the user's cameras" },
    "GET /api/v1/camera-viewers/:user_id": { summary: "A user's camera session limit" },
    "PUT /api/v1/camera-viewers/:user_id": { summary: "Set a user's camera session limit" },
    "GET /api/v1/cameras/:id": { summary: "A camera" },
    "PATCH /api/v1/cameras/:id": { summary: "Change a camera" },
    "DELETE /api/v1/cameras/:id": { summary: "Delete a camera" },
    "GET /api/v1/cameras/:id/users": { summary: "Users granted a camera" },
    "PUT /api/v1/cameras/:id/users/:user_id": { summary: "Grant a camera" },
    "DELETE /api/v1/cameras/:id/users/:user_id": { summary: "Revoke a camera" },
    "GET /api/v1/media/auth": { summary: "Media-server auth (Flussonic)", auth: "camera_token" },
    "GET /api/v1/media/auth/nginx": { summary: "Media auth for nginx auth_request", auth: "camera_token" },
    "POST /api/v1/media/auth/mediamtx": { summary: "Media auth for MediaMTX", auth: "camera_token" },
    // SmartYard apps (their exact API) and its admin
    [`POST ${sy}user/phonePattern`]: app("SmartYard: phone input pattern", "none"),
    [`POST ${sy}user/requestCode`]: app("SmartYard: send a login code", "none"),
    [`POST ${sy}user/confirmCode`]: app("SmartYard: confirm the code", "none"),
    [`POST ${sy}ext/options`]: app("SmartYard: app options"),
    [`POST ${sy}user/appVersion`]: app("SmartYard: report the app version"),
    [`POST ${sy}user/registerPushToken`]: app("SmartYard: register a push token"),
    [`POST ${sy}user/sendName`]: app("SmartYard: set the user's name"),
    [`POST ${sy}user/notification`]: app("SmartYard: notification settings"),
    [`POST ${sy}user/ping`]: app("SmartYard: ping"),
    [`POST ${sy}address/getAddressList`]: app("SmartYard: addresses and doors"),
    [`POST ${sy}address/getSettingsList`]: app("SmartYard: address settings"),
    [`POST ${sy}address/openDoor`]: app("SmartYard: open a door"),
    [`POST ${sy}cctv/all`]: app("SmartYard: cameras"),
    [`POST ${sy}cctv/camMap`]: app("SmartYard: camera map"),
    [`POST ${sy}cctv/overview`]: app("SmartYard: camera overview"),
    [`POST ${sy}user/getPaymentsList`]: app("SmartYard: payment accounts"),
    [`POST ${sy}user/getBillingList`]: app("SmartYard: billing history"),
    [`POST ${sy}pay/prepare`]: app("SmartYard: prepare a payment"),
    [`POST ${sy}pay/register`]: app("SmartYard: register a card payment"),
    [`POST ${sy}pay/process`]: app("SmartYard: process a payment"),
    [`GET ${sy}pay/callback`]: app("Sberbank payment callback", "bank_callback"),
    [`POST ${sy}pay/callback`]: app("Sberbank payment callback", "bank_callback"),
    "POST /api/v1/smartyard/houses": { summary: "Add a house" },
    "GET /api/v1/smartyard/houses": { summary: "List houses" },
    "GET /api/v1/smartyard/houses/:id": { summary: "A house" },
    "PATCH /api/v1/smartyard/houses/:id": { summary: "Change a house" },
    "DELETE /api/v1/smartyard/houses/:id": { summary: "Delete a house" },
    "POST /api/v1/smartyard/houses/:id/doors": { summary: "Add a door" },
    "PATCH /api/v1/smartyard/doors/:door": { summary: "Change a door" },
    "DELETE /api/v1/smartyard/doors/:door": { summary: "Delete a door" },
    "PUT /api/v1/smartyard/houses/:id/cameras/:camera_id": { summary: "Give a house a camera" },
    "DELETE /api/v1/smartyard/houses/:id/cameras/:camera_id": { summary: "Take a camera from a house" },
    "PUT /api/v1/smartyard/houses/:id/residents/:phone": { summary: "Add or change a resident" },
    "DELETE /api/v1/smartyard/houses/:id/residents/:phone": { summary: "Remove a resident" },
    "GET /api/v1/smartyard/contracts": { summary: "List billing contracts" },
    "DELETE /api/v1/smartyard/contracts/:phone": { summary: "Delete a contract" },
    "GET /api/v1/smartyard/invoices": { summary: "List invoices" },
    "GET /api/v1/smartyard/invoices/:number": { summary: "An invoice" },
    "POST /api/v1/smartyard/settle": { summary: "Settle pending card payments now" },
    "GET /api/v1/smartyard/users/:user_id/app-sessions": { summary: "A user's app sessions" },
    "DELETE /api/v1/smartyard/app-sessions/:session_id": { summary: "End an app session" },
    // old clients' exact routes (routes/legacy/)
    "POST /api/otprequest": { summary: "Old mobile apps: send a code", auth: "client_secret", ...L },
    "POST /api/otpverify": { summary: "Old mobile apps: verify a code", auth: "client_secret", ...L },
    "POST /api/device": { summary: "Old mobile apps: register a device", auth: "client_secret", ...L },
    "POST /api/checkDeviceInfo": { summary: "Old mobile apps: device info", auth: "client_secret", ...L },
    "GET /api/accessfl": { summary: "Old SmartYard Flussonic auth backend", auth: "camera_token", ...L },
    "GET /fota.php": { summary: "Old firmware check", auth: "none", ...L },
    "POST /fota.php": { summary: "Old firmware check", auth: "none", ...L },
    "GET /qussd.php": { summary: "Old USSD balance report", auth: "none", ...L },
    "POST /qussd.php": { summary: "Old USSD balance report", auth: "none", ...L },
    "GET /ws/legacy": { summary: "Old vehicle-lookup WebSocket", auth: "ws_ticket", ...L },
    "GET /ws/:job_id": { summary: "Old booking WebSocket", auth: "ws_ticket", ...L },
    "GET /captcha/": { summary: "Old tax-portal client: captcha", ...L },
    "GET /captcha": { summary: "Old tax-portal client: captcha", ...L },
    "PUT /enable_api/:token": { summary: "Old tax-portal client: enable API access", ...L },
    "POST /api/v1/booking/start": { summary: "Old booking client: start", ...L },
    "GET /api/v1/booking/status": { summary: "Old booking client: all jobs", ...L },
    "GET /api/v1/booking/status/:job_id": { summary: "Old booking client: a job", ...L },
    "GET /api/v1/booking/:job_id/qr": { summary: "Old booking client: the BankID QR", ...L },
    "POST /api/v1/booking/stop": { summary: "Old booking client: stop", ...L },
  };
}
