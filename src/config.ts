import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  ["true", "1", "yes"].includes(v)
);
/**
 * Whose word the client IP is: the socket peer (false), Fly's `Fly-Client-IP` ("fly"), or the
 * X-Forwarded-For entry `n` hops from the right, the one the n-th trusted proxy appended.
 */
export type TrustProxy = false | "fly" | number;
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const list = z.string().default("").transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));
const optionalUrl = z.url().optional();
/** A JSON object in one variable (default `{}`), checked against `shape`. */
const jsonObject = <T extends z.ZodType>(name: string, shape: T) =>
  z.string().default("{}").transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: `${name} must be a JSON object` });
      return z.NEVER;
    }
  }).pipe(shape);
// ---- smartyard
const syVersion = z.string().regex(/^\d+(\.\d+)*$/, "must be a version like 1.4.2 or a build number");
const syServerType = z.enum(["flussonic", "nimble", "macroscop", "trassir", "forpost"]);
const syHlsMode = z.enum(["fmp4", "mpegts"]);
// ---- cameras
const mediaTemplate = z.string().refine((s) => s.includes("{stream}") && s.includes("{token}"), {
  message: "must contain {stream} and {token}",
});

/** The one schema for every environment variable gatehouse reads. */
export const configSchema = z.object({
  ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: int(8000),
  DATABASE_URL: z.string().optional(),
  DATA_DIR: z.string().default("./data"),
  // Postgres: a down database is a fast 503, not a hang (issue 15, item 4)
  DB_CONNECT_TIMEOUT_S: int(2, 1),
  // slow clients: a request body must have arrived this long after its headers (0 = no limit)
  REQUEST_BODY_TIMEOUT_MS: int(10_000, 0),
  /**
   * slow and idle clients (src/conn_guard.ts): a request header must arrive within HTTP_HEADER_TIMEOUT_MS, and
   * a connection silent HTTP_IDLE_TIMEOUT_MS after its answer is closed. Deno.serve cannot, so a guard relays
   * the connections: `auto` turns it on when no proxy is in front (TRUST_PROXY=false), whose timeouts apply.
   */
  HTTP_CONN_GUARD: z.enum(["auto", "on", "off"]).default("auto"),
  HTTP_HEADER_TIMEOUT_MS: int(10_000, 1),
  HTTP_IDLE_TIMEOUT_MS: int(75_000, 1), // above the 60 s clients pool idle connections for (nginx upstream keepalive)
  DB_STATEMENT_TIMEOUT_MS: int(10_000, 0),
  /**
   * cluster: seconds a SIGTERM/SIGINT leaves for the shutdown: sockets close (1001) at once, in-flight
   * requests finish, then sessions still running here fail as interrupted. Matches fly.toml kill_timeout.
   */
  SHUTDOWN_GRACE_S: int(30, 1),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters").optional(),
  JWT_ISSUER: z.string().default("gatehouse"),
  JWT_AUDIENCE: z.string().default("gatehouse-api"),
  ACCESS_TOKEN_TTL_S: int(900, 1),
  REFRESH_TOKEN_TTL_S: int(30 * 24 * 3600, 1),
  API_KEYS: list,
  /** Bearer token Prometheus scrapes /metrics with (an admin API key works too). */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  DEFAULT_REGION: z.string().length(2).toUpperCase().optional(),
  CLIENT_SECRET: z.string().optional(),
  // false | "fly" (Fly-Client-IP) | N: the Nth X-Forwarded-For entry from the right (true = 1, one proxy)
  TRUST_PROXY: z.string().default("false").transform((v, ctx): TrustProxy => {
    const s = v.trim().toLowerCase();
    if (["false", "0", "no", ""].includes(s)) return false;
    if (["true", "yes"].includes(s)) return 1;
    if (s === "fly") return "fly";
    if (/^[1-9]$/.test(s)) return Number(s);
    ctx.addIssue({ code: "custom", message: "TRUST_PROXY must be false, true, fly or a hop count 1-9" });
    return z.NEVER;
  }),
  PUBLIC_URL: optionalUrl,
  /** Without PUBLIC_URL, links (ws_url) are built from the request's Host only when its name is listed here. */
  ALLOWED_HOSTS: z.string().default("localhost,127.0.0.1,[::1]")
    .transform((s) => s.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean)),
  /**
   * Origins (scheme://host[:port], comma-separated) whose browser pages may open WebSockets, besides PUBLIC_URL's
   * and the server's own host from ALLOWED_HOSTS; other browser upgrades get 403.
   */
  ALLOWED_ORIGINS: z.string().default("").transform((s, ctx) => {
    const origins: string[] = [];
    for (const item of s.split(",").map((x) => x.trim()).filter(Boolean)) {
      const origin = URL.canParse(item) ? new URL(item).origin : "null";
      if (origin === "null") {
        ctx.addIssue({ code: "custom", message: `"${item}" is not an origin like https://app.example.com` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    return origins;
  }),
  /** The built-in demo portal at /demo: a development aid, on by default only outside production. */
  DEMO_PORTAL: bool.optional(),
  /** Let production run with SMS_PROVIDER=console (codes printed to stdout): only for a private trial. */
  ALLOW_CONSOLE_SMS: bool.default(false),

  OTP_LENGTH: int(6, 4).pipe(z.number().max(10)),
  OTP_TTL_S: int(300, 1),
  OTP_MAX_ATTEMPTS: int(5, 1),
  OTP_RESEND_S: int(60),
  OTP_MAX_PER_HOUR: int(5, 1),
  OTP_IP_MAX_PER_HOUR: int(30, 1),
  OTP_MESSAGE: z.string().default("Your gatehouse code is {code}").refine((s) => s.includes("{code}"), {
    message: "OTP_MESSAGE must contain {code}",
  }),
  /** Digits of the codes sent to the old mobile apps (`POST /api/otprequest`): their old backends sent 4. */
  LEGACY_OTP_LENGTH: int(4, 4).pipe(z.number().max(10)),

  SMS_PROVIDER: z.enum(["console", "kannel", "http", "twilio", "ghasedak"]).default("console"),
  SMS_TIMEOUT_MS: int(10_000, 1),
  KANNEL_URL: optionalUrl,
  KANNEL_USER: z.string().optional(),
  KANNEL_PASSWORD: z.string().optional(),
  KANNEL_SENDER: z.string().optional(),
  SMS_WEBHOOK_URL: optionalUrl,
  TWILIO_ACCOUNT_SID: z.string().optional(),
  TWILIO_AUTH_TOKEN: z.string().optional(),
  TWILIO_FROM: z.string().optional(),
  TWILIO_MESSAGING_SERVICE_SID: z.string().optional(),
  TWILIO_BASE_URL: z.url().default("https://api.twilio.com"),
  /** Ghasedak's web service (SendSingleSMS with an `ApiKey` header); see src/otp/sms.ts. */
  GHASEDAK_API_KEY: z.string().optional(),
  /** The sending line; unset, none is sent and Ghasedak chooses (its docs: the account's line of highest priority). */
  GHASEDAK_LINE_NUMBER: z.string().optional(),
  GHASEDAK_BASE_URL: z.url().default("https://gateway.ghasedak.me").transform((u) => u.replace(/\/+$/, "")),

  // ---- devices (GPS trackers, Traccar, USSD balance, scheduled commands)
  TRACCAR_URL: optionalUrl,
  TRACCAR_TOKEN: z.string().optional(),
  TRACCAR_USER: z.string().optional(),
  TRACCAR_PASSWORD: z.string().optional(),
  TRACCAR_TIMEOUT_MS: int(10_000, 1),
  /** Event types the listener asks Traccar to push (as `web` notifications); `none`: leave Traccar's rules alone. */
  TRACCAR_EVENT_TYPES: z.string().default(
    "deviceOnline,deviceOffline,deviceUnknown,deviceInactive,commandResult,queuedCommandSent,alarm," +
      "ignitionOn,ignitionOff,deviceOverspeed,geofenceEnter,geofenceExit",
  ).transform((s) => s.trim() === "none" ? [] : s.split(",").map((x) => x.trim()).filter(Boolean)),
  DEVICE_NAME_TEMPLATE: z.string().min(1).max(100).default("Vehicle {n}"),
  DEVICE_INIT_COMMAND: z.string().max(1024).optional(),
  SCHEDULER_INTERVAL_S: int(10, 1),
  DEVICE_EVENT_HISTORY: int(100, 1),
  // ---- fota
  /**
   * How to read firmware strings that are not versions (`GT06_V2.0_20200101`): a RegExp whose capture groups,
   * joined with `.`, give the comparable version (see src/fota/version.ts parseReportedVersion).
   */
  FOTA_VERSION_PATTERN: z.string().max(500).optional().transform((s, ctx) => {
    if (s === undefined) return undefined;
    try {
      const re = new RegExp(s);
      if (new RegExp(`${s}|`).exec("")!.length < 2) {
        ctx.addIssue({
          code: "custom",
          message: "FOTA_VERSION_PATTERN needs a capture group, e.g. _V(\\d+(?:\\.\\d+)*)_",
        });
        return z.NEVER;
      }
      return re;
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: `FOTA_VERSION_PATTERN is not a valid RegExp: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
  }),
  // ---- automation (browser pool, sessions, webhooks)
  CHROME_PATH: z.string().optional(),
  BROWSER_WS_ENDPOINT: z.string().regex(/^wss?:\/\//, "must be a ws:// or wss:// URL").optional(),
  /** Contexts with a blank page kept ready once the browser runs, so a session skips creating them; 0 = none. */
  BROWSER_WARM_PAGES: int(2),
  MAX_SESSIONS: int(8, 1),
  MAX_QUEUE: int(32),
  /** Fair share: active (queued, running, waiting) sessions one user may have; 0 = no cap. */
  MAX_SESSIONS_PER_USER: int(4),
  /** Fair share: active sessions one API key may have (keyless legacy clients share one cap); 0 = no cap. */
  MAX_SESSIONS_PER_API_KEY: int(16),
  SESSION_PROMPT_TIMEOUT_S: int(240, 1),
  SESSION_MAX_S: int(900, 1),
  /** The one default timeout of every page wait in a flow (navigation, selectors, actions). */
  FLOW_STEP_TIMEOUT_S: int(15, 1),
  PORTAL_BASE_URL: optionalUrl,
  FLOW_SECRETS: jsonObject("FLOW_SECRETS", z.record(z.string(), z.record(z.string(), z.string()))),
  // ---- webhooks (src/webhooks/): durable delivery
  /**
   * Signs session webhooks and booking webhooks. Any string: it is the key of the booking frontend's
   * `X-Webhook-Signature: sha256=<hex>` as-is; a `whsec_<base64>` value also signs Standard Webhooks headers
   * with its decoded bytes (any other string signs them with its UTF-8 bytes).
   */
  WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Seconds before each attempt (Svix schedule); the message fails after the last. */
  WEBHOOK_RETRY_SCHEDULE: z.string().default("0,5,300,1800,7200,18000,36000,36000").transform((s, ctx) => {
    const n = s.split(",").map((x) => Number(x.trim()));
    if (!n.length || n.some((x) => !Number.isInteger(x) || x < 0)) {
      ctx.addIssue({ code: "custom", message: "must be comma-separated whole seconds, e.g. 0,5,300" });
      return z.NEVER;
    }
    return n;
  }),
  /** Allow webhook targets on loopback/private/link-local/CGNAT/ULA addresses; default true unless ENV=production. */
  WEBHOOK_ALLOW_PRIVATE: bool.optional(),
  /** Default target of booking jobs started without webhook_url (the old SUPABASE_WEBHOOK_URL is an alias). */
  BOOKING_WEBHOOK_URL: optionalUrl,
  SUPABASE_WEBHOOK_URL: optionalUrl,
  WEBHOOK_TIMEOUT_MS: int(15_000, 1),
  // ---- old automation clients (routes/legacy/; README "Old clients")
  /** The tax-portal client's session time-to-live (the old service's `-ttl`), and what each 400 adds. */
  TAX_PORTAL_TTL_S: int(240, 1),
  /** `none` opens GET /captcha/ and PUT /enable_api/:token without a key (behind the operator's own gateway). */
  TAX_PORTAL_AUTH: z.enum(["key", "none"]).default("key"),
  /** `job_id` lets WS /ws/:job_id take the job id itself as the credential (the old frontend sends none). */
  BOOKING_SOCKET_AUTH: z.enum(["key", "job_id"]).default("key"),
  // ---- cameras
  /** Lifetime of a camera token, in minutes (legacy EXPIRE). */
  CAMERA_TOKEN_TTL_MIN: int(360, 1),
  /** Default concurrent-session limit per user (X-Max-Sessions); 0 = unlimited. */
  CAMERA_MAX_SESSIONS: int(0),
  /** How long a media server may cache an allow (X-AuthDuration), and the bound on revocation delay. */
  MEDIA_AUTH_CACHE_S: int(60, 1),
  MEDIA_BASE_URL: z.url().default("http://localhost:8080").transform((u) => u.replace(/\/+$/, "")),
  MEDIA_HLS_TEMPLATE: mediaTemplate.default("{base}/{stream}/index.m3u8?token={token}"),
  MEDIA_DASH_TEMPLATE: mediaTemplate.optional(),
  MEDIA_RTSP_TEMPLATE: mediaTemplate.optional(),
  MEDIA_PREVIEW_TEMPLATE: mediaTemplate.optional(),
  // ---- smartyard (the SmartYard mobile apps, their billing and Sberbank acquiring; README "SmartYard")
  /** Where the apps' API lives: every call is POST <prefix><module>/<method>. */
  SMARTYARD_PREFIX: z.string().regex(/^\/([\w.-]+\/)*$/, "must start and end with / (e.g. /api/ or /mobile/)")
    .default("/api/"),
  /** Digits of the codes this client's SMS carry (the apps' PIN field is 4); the v1 API keeps OTP_LENGTH. */
  SMARTYARD_OTP_LENGTH: int(4, 4).pipe(z.number().max(10)),
  SMARTYARD_PHONE_PATTERN: z.string().max(64).default("+7 (###) ###-##-##"),
  /** Below these versions the app is told `force_upgrade`; below the LATEST ones, `upgrade`. */
  SMARTYARD_MIN_VERSION_ANDROID: syVersion.optional(),
  SMARTYARD_MIN_VERSION_IOS: syVersion.optional(),
  SMARTYARD_LATEST_VERSION_ANDROID: syVersion.optional(),
  SMARTYARD_LATEST_VERSION_IOS: syVersion.optional(),
  SMARTYARD_SUPPORT_PHONE: z.string().max(32).optional(),
  SMARTYARD_TIME_ZONE: z.string().max(64).default("Europe/Moscow"),
  /** Stream base of the apps' camera `url` (`<base>/<stream>`); unset: MEDIA_BASE_URL. */
  SMARTYARD_DVR_URL: z.url().transform((u) => u.replace(/\/+$/, "")).optional(),
  SMARTYARD_SERVER_TYPE: syServerType.default("flussonic"),
  SMARTYARD_HLS_MODE: syHlsMode.default("fmp4"),
  SMARTYARD_DOOR_TIMEOUT_MS: int(5_000, 1),
  /** `{secret:NAME}` values of the door URL templates, as a JSON object (panel passwords stay out of the DB). */
  SMARTYARD_DOOR_SECRETS: jsonObject("SMARTYARD_DOOR_SECRETS", z.record(z.string(), z.string())),
  /** How long billing's answer about a phone's addresses and contracts is trusted for access checks. */
  SMARTYARD_BILLING_CACHE_S: int(300, 1),
  /** The largest card payment the apps may start, in kopecks. */
  SMARTYARD_MAX_PAYMENT_KOPECKS: int(10_000_000, 1),
  /** Orders with no bank callback are asked about after this many seconds, then every POLL_INTERVAL_S. */
  SMARTYARD_POLL_AFTER_S: int(300, 1),
  SMARTYARD_POLL_INTERVAL_S: int(60, 1),
  /** Unpaid orders are closed as `expired` after this many seconds. */
  SMARTYARD_ORDER_TTL_S: int(24 * 3600, 60),
  /** The billing system's HTTP API: POST <BILLING_URL><method> with JSON (a trailing / is added). */
  BILLING_URL: z.url().transform((u) => u.endsWith("/") ? u : `${u}/`).optional(),
  BILLING_TOKEN: z.string().optional(),
  BILLING_TIMEOUT_MS: int(5_000, 1),
  /** Sberbank acquiring: https://securepayments.sberbank.ru (production) or https://3dsec.sberbank.ru (test). */
  SBERBANK_URL: z.url().transform((u) => u.replace(/\/+$/, "")).default("https://3dsec.sberbank.ru"),
  SBERBANK_USERNAME: z.string().optional(),
  SBERBANK_PASSWORD: z.string().optional(),
  /** Alternative to username and password: the merchant's API token. */
  SBERBANK_TOKEN: z.string().optional(),
  SBERBANK_RETURN_URL: optionalUrl,
  SBERBANK_FAIL_URL: optionalUrl,
  /** Sent as `dynamicCallbackUrl` (needs the bank's permission); otherwise set the callback in the bank's profile. */
  SBERBANK_CALLBACK_URL: optionalUrl,
  /** The symmetric key of callback checksums (HMAC-SHA256). */
  SBERBANK_CALLBACK_SECRET: z.string().optional(),
  /** The bank's certificate (or public key), PEM, for RSA-SHA512 callback checksums; `\n` escapes allowed. */
  SBERBANK_CALLBACK_CERT: z.string().transform((s) => s.replaceAll("\\n", "\n")).optional(),
  SBERBANK_CURRENCY: z.string().regex(/^\d{3}$/, "must be an ISO 4217 numeric code, e.g. 643").optional(),
  SBERBANK_LANGUAGE: z.string().max(8).default("ru"),
  SBERBANK_TIMEOUT_MS: int(10_000, 1),
}).superRefine((c, ctx) => {
  const need = (when: boolean, keys: (keyof typeof c)[]) => {
    for (const k of keys) {
      if (when && !c[k]) ctx.addIssue({ code: "custom", path: [k], message: `${k} is required` });
    }
  };
  need(c.ENV === "production", ["JWT_SECRET", "PUBLIC_URL"]);
  // Production never prints codes to stdout by accident, and never serves the demo (its /_debug lists codes).
  if (c.ENV === "production" && c.SMS_PROVIDER === "console" && !c.ALLOW_CONSOLE_SMS) {
    ctx.addIssue({
      code: "custom",
      path: ["SMS_PROVIDER"],
      message:
        "the console provider prints codes to stdout: choose kannel, http, twilio or ghasedak in production " +
        "(or set ALLOW_CONSOLE_SMS=true for a private trial)",
    });
  }
  if (c.ENV === "production" && c.DEMO_PORTAL) {
    ctx.addIssue({
      code: "custom",
      path: ["DEMO_PORTAL"],
      message: "the demo portal is never served in production",
    });
  }
  need(c.SMS_PROVIDER === "kannel", ["KANNEL_URL"]);
  need(c.SMS_PROVIDER === "http", ["SMS_WEBHOOK_URL"]);
  need(c.SMS_PROVIDER === "twilio", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]);
  need(c.SMS_PROVIDER === "ghasedak", ["GHASEDAK_API_KEY"]);
  if (c.SMS_PROVIDER === "twilio" && !c.TWILIO_FROM && !c.TWILIO_MESSAGING_SERVICE_SID) {
    ctx.addIssue({
      code: "custom",
      path: ["TWILIO_FROM"],
      message: "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required",
    });
  }
}).superRefine((c, ctx) => {
  // ---- devices
  if (c.TRACCAR_URL && !c.TRACCAR_TOKEN && !(c.TRACCAR_USER && c.TRACCAR_PASSWORD)) {
    ctx.addIssue({
      code: "custom",
      path: ["TRACCAR_TOKEN"],
      message: "TRACCAR_TOKEN, or TRACCAR_USER and TRACCAR_PASSWORD, is required with TRACCAR_URL",
    });
  }
}).superRefine((c, ctx) => {
  // ---- smartyard: bank credentials come as a pair (or a token), and a payment needs a return URL
  const bank = c.SBERBANK_USERNAME || c.SBERBANK_PASSWORD || c.SBERBANK_TOKEN;
  if ((c.SBERBANK_USERNAME || c.SBERBANK_PASSWORD) && !(c.SBERBANK_USERNAME && c.SBERBANK_PASSWORD)) {
    ctx.addIssue({
      code: "custom",
      path: ["SBERBANK_PASSWORD"],
      message: "SBERBANK_USERNAME and SBERBANK_PASSWORD go together",
    });
  }
  if (bank && !c.SBERBANK_RETURN_URL) {
    ctx.addIssue({
      code: "custom",
      path: ["SBERBANK_RETURN_URL"],
      message: "SBERBANK_RETURN_URL is required",
    });
  }
}).transform((c) => ({
  ...c,
  DEMO_PORTAL: c.DEMO_PORTAL ?? c.ENV !== "production",
  // ---- webhooks
  WEBHOOK_ALLOW_PRIVATE: c.WEBHOOK_ALLOW_PRIVATE ?? c.ENV !== "production",
  BOOKING_WEBHOOK_URL: c.BOOKING_WEBHOOK_URL ?? c.SUPABASE_WEBHOOK_URL,
}));

/** Parsed, typed configuration. */
export type Config = z.output<typeof configSchema>;

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment once; the only reader of environment variables. */
export function loadConfig(
  env: { toObject(): Record<string, string> } | Record<string, string | undefined>,
): Config {
  const raw = typeof env.toObject === "function"
    ? (env as { toObject(): Record<string, string> }).toObject()
    : env as Record<string, string | undefined>;
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(config)"}: ${i.message}`);
    const hint = lines.some((l) => l.includes("JWT_SECRET"))
      ? "\nSet JWT_SECRET to a random string of at least 32 characters, e.g. `openssl rand -base64 48`."
      : "";
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}${hint}`);
  }
  return parsed.data;
}
