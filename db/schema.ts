/** The database schema: the single source of truth; `deno task db:generate` derives migrations from it. */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

// ---------------------------------------------------------------- users and sessions

/** People who logged in with their phone. */
export const users = pgTable("users", {
  id: uuid("id").primaryKey().defaultRandom(),
  phone: text("phone").notNull().unique(),
  createdAt: ts("created_at").notNull(),
});

/** A login: the family of refresh tokens issued from one OTP verification; revoking it logs out. */
export const authSessions = pgTable("auth_sessions", {
  id: uuid("id").primaryKey().defaultRandom(),
  userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  createdAt: ts("created_at").notNull(),
  revokedAt: ts("revoked_at"),
  revokeReason: text("revoke_reason"),
}, (t) => [index("auth_sessions_user_idx").on(t.userId)]);

/** Refresh tokens, stored only as SHA-256 hashes; each is used once, then replaced (rotation). */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionId: uuid("session_id").notNull().references(() => authSessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    usedAt: ts("used_at"),
  },
  (
    t,
  ) => [
    uniqueIndex("refresh_tokens_hash_idx").on(t.tokenHash),
    index("refresh_tokens_session_idx").on(t.sessionId),
  ],
);

// ---------------------------------------------------------------- one-time codes

/** The one live code per phone number, as a keyed hash. */
export const otpCodes = pgTable("otp_codes", {
  phone: text("phone").primaryKey(),
  codeHash: text("code_hash").notNull(),
  attempts: integer("attempts").notNull().default(0),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
});

/** Every accepted code request, for the per-number and per-IP hourly limits. */
export const otpRequests = pgTable("otp_requests", {
  id: uuid("id").primaryKey().defaultRandom(),
  phone: text("phone").notNull(),
  ip: text("ip").notNull(),
  sent: boolean("sent").notNull().default(false),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  index("otp_requests_phone_idx").on(t.phone, t.createdAt),
  index("otp_requests_ip_idx").on(t.ip, t.createdAt),
]);

// ---------------------------------------------------------------- firmware over the air (fota)

/** The firmware catalog: one row per (device type, canonical version); yanked rows stay for stats. */
export const firmwareReleases = pgTable("firmware_releases", {
  id: uuid("id").primaryKey().defaultRandom(),
  deviceType: text("device_type").notNull(),
  /** The version as published; `versionKey` is its canonical form (src/fota/version.ts). */
  version: text("version").notNull(),
  versionKey: text("version_key").notNull(),
  /** Byte-order (COLLATE "C") sortable form, so a check loads only releases newer than the device's. */
  sortKey: text("sort_key").notNull(),
  url: text("url").notNull(),
  sha256: text("sha256").notNull(),
  md5: text("md5"),
  /** Bytes; integer (2 GiB) is far above any firmware image a device can hold. */
  size: integer("size").notNull(),
  rolloutPercent: integer("rollout_percent").notNull().default(100),
  minVersion: text("min_version"),
  notes: text("notes"),
  paused: boolean("paused").notNull().default(false),
  yankedAt: ts("yanked_at"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
}, (t) => [uniqueIndex("firmware_releases_type_version_idx").on(t.deviceType, t.versionKey)]);

/** The latest check of each device (IMEI or STA MAC), whether or not it is claimed by anyone. */
export const fotaDevices = pgTable("fota_devices", {
  deviceId: text("device_id").primaryKey(),
  deviceType: text("device_type").notNull(),
  version: text("version").notNull(),
  versionKey: text("version_key").notNull(),
  /** Which route it used: `api`, `legacy` (/fota.php) or `esp` (HTTPUpdate). */
  source: text("source").notNull(),
  serial: text("serial"),
  revision: text("revision"),
  freeSpace: integer("free_space"),
  /** `md5:<hex>` (ESP8266) or `sha256:<hex>` (ESP32) of the running sketch, as the device reported it. */
  sketchHash: text("sketch_hash"),
  /** `offered`, `none` or `refused` (an update applied but could not be served; see `lastReason`). */
  lastResult: text("last_result").notNull(),
  lastReason: text("last_reason"),
  lastReleaseId: uuid("last_release_id").references(() => firmwareReleases.id, { onDelete: "set null" }),
  firstSeenAt: ts("first_seen_at").notNull(),
  lastCheckAt: ts("last_check_at").notNull(),
}, (t) => [index("fota_devices_type_version_idx").on(t.deviceType, t.versionKey)]);

/** Every version each device has reported, first and last time: "later reported running it" in the stats. */
export const fotaDeviceVersions = pgTable("fota_device_versions", {
  id: uuid("id").primaryKey().defaultRandom(),
  deviceId: text("device_id").notNull(),
  deviceType: text("device_type").notNull(),
  versionKey: text("version_key").notNull(),
  firstReportedAt: ts("first_reported_at").notNull(),
  lastReportedAt: ts("last_reported_at").notNull(),
}, (t) => [
  uniqueIndex("fota_device_versions_device_idx").on(t.deviceId, t.deviceType, t.versionKey),
  index("fota_device_versions_type_version_idx").on(t.deviceType, t.versionKey),
]);

/** Offers made (and refused, e.g. too big for the ESP's free space) per release and device. */
export const fotaOffers = pgTable("fota_offers", {
  id: uuid("id").primaryKey().defaultRandom(),
  releaseId: uuid("release_id").notNull().references(() => firmwareReleases.id, { onDelete: "cascade" }),
  deviceId: text("device_id").notNull(),
  offers: integer("offers").notNull().default(0),
  firstOfferedAt: ts("first_offered_at"),
  lastOfferedAt: ts("last_offered_at"),
  refusals: integer("refusals").notNull().default(0),
  lastRefusedAt: ts("last_refused_at"),
  lastRefusalReason: text("last_refusal_reason"),
}, (t) => [uniqueIndex("fota_offers_release_device_idx").on(t.releaseId, t.deviceId)]);
// ---------------------------------------------------------------- devices (GPS trackers, Traccar)

/** GPS trackers claimed by users; the IMEI is unique, so a device has at most one owner. */
export const devices = pgTable("devices", {
  id: uuid("id").primaryKey().defaultRandom(),
  imei: text("imei").notNull().unique(),
  userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  attributes: jsonb("attributes").$type<Record<string, unknown>>().notNull().default({}),
  /** The device's id in Traccar; null until synced (or when Traccar is not configured). */
  traccarId: integer("traccar_id"),
  /** When the device was first reported online (deviceOnline). */
  firstOnlineAt: ts("first_online_at"),
  /** When DEVICE_INIT_COMMAND was sent; set once, so the command goes out once per device. */
  initialisedAt: ts("initialised_at"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
}, (t) => [index("devices_user_idx").on(t.userId), index("devices_traccar_idx").on(t.traccarId)]);

/** A short per-device history of Traccar events and USSD reports (the newest DEVICE_EVENT_HISTORY). */
export const deviceEvents = pgTable("device_events", {
  /** Insertion order: the history keeps the rows with the highest ids. */
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  deviceId: uuid("device_id").notNull().references(() => devices.id, { onDelete: "cascade" }),
  type: text("type").notNull(),
  /** Traccar's event id; unique per device so that several listeners record (and act on) an event once. */
  traccarEventId: bigint("traccar_event_id", { mode: "number" }),
  attributes: jsonb("attributes").$type<Record<string, unknown>>().notNull().default({}),
  /** When it happened (Traccar's eventTime, or our clock). */
  at: ts("at").notNull(),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  index("device_events_device_idx").on(t.deviceId, t.id),
  uniqueIndex("device_events_traccar_idx").on(t.deviceId, t.traccarEventId),
]);

/** Commands sent to a device every `every_s` seconds; `next_run_at` is claimed with row locks. */
export const deviceSchedules = pgTable("device_schedules", {
  id: uuid("id").primaryKey().defaultRandom(),
  deviceId: uuid("device_id").notNull().references(() => devices.id, { onDelete: "cascade" }),
  command: jsonb("command").$type<{ type: string; attributes: Record<string, unknown> }>().notNull(),
  everyS: integer("every_s").notNull(),
  nextRunAt: ts("next_run_at").notNull(),
  lastRunAt: ts("last_run_at"),
  lastStatus: text("last_status"),
  lastError: text("last_error"),
  runs: integer("runs").notNull().default(0),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  index("device_schedules_due_idx").on(t.nextRunAt),
  index("device_schedules_device_idx").on(t.deviceId),
]);

/** The Traccar user made for each gatehouse user who claimed a device. */
export const traccarUsers = pgTable("traccar_users", {
  userId: uuid("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  traccarUserId: integer("traccar_user_id").notNull(),
  createdAt: ts("created_at").notNull(),
});
// ---------------------------------------------------------------- automation sessions
// (imports of this section kept here so branches merge without touching the header)

/** Binary columns (prompt images, artifacts): Uint8Array in, Uint8Array out, on PGlite and postgres.js. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
  toDriver: (v) => v,
  fromDriver: (v) => (v instanceof Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v),
});

/** A human-in-the-loop browser automation session; the source of truth shared by every instance. */
export const automationSessions = pgTable("automation_sessions", {
  id: uuid("id").primaryKey().defaultRandom(),
  /** "admin" (API key) or "user:<uuid>"; legacy surfaces may use their own prefix. */
  owner: text("owner").notNull(),
  /** The id (src/auth/api_keys.ts, never the key) of the API key an "admin" session was started with. */
  apiKeyId: text("api_key_id"),
  flow: text("flow").notNull(),
  /** queued | running | waiting | succeeded | failed | cancelled | expired */
  status: text("status").notNull(),
  input: jsonb("input").notNull(),
  webhookUrl: text("webhook_url"),
  progress: integer("progress").notNull().default(0),
  /** Data items reported with progress(percentage, key, value), merged by key. */
  data: jsonb("data").notNull().default({}),
  /** The open prompt (never an answer), or null. */
  prompt: jsonb("prompt"),
  /** The latest image of the open prompt (QR frames are written at most every few seconds). */
  promptImage: bytea("prompt_image"),
  result: jsonb("result"),
  error: text("error"),
  errorStep: text("error_step"),
  /** Sequence number of the latest event in automation_events. */
  seq: integer("seq").notNull().default(0),
  createdAt: ts("created_at").notNull(),
  startedAt: ts("started_at"),
  updatedAt: ts("updated_at").notNull(),
  finishedAt: ts("finished_at"),
  expiresAt: ts("expires_at").notNull(),
  /** cluster: the instance that claimed (runs) the session; null while it waits in the global queue. */
  instance: text("instance"),
  /** The session's own prompt timeout (null: SESSION_PROMPT_TIMEOUT_S of the instance that runs it). */
  promptTimeoutS: integer("prompt_timeout_s"),
  /** The full input, secrets included, sealed for the instance that claims it; cleared at the end. */
  sealedInput: text("sealed_input"),
}, (t) => [
  index("automation_sessions_owner_idx").on(t.owner, t.createdAt),
  index("automation_sessions_status_idx").on(t.status),
  index("automation_sessions_queue_idx").on(t.status, t.createdAt, t.id),
]);

/** The ordered event log of a session: one row per event, numbered from 1 per session. */
export const automationEvents = pgTable("automation_events", {
  sessionId: uuid("session_id").notNull().references(() => automationSessions.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  type: text("type").notNull(),
  data: jsonb("data").notNull(),
  at: ts("at").notNull(),
}, (t) => [primaryKey({ name: "automation_events_pk", columns: [t.sessionId, t.seq] })]);

/** One-time links that let someone without credentials follow one session (issue 13); only the token's hash is kept. */
export const sessionShares = pgTable("session_shares", {
  tokenHash: text("token_hash").primaryKey(),
  sessionId: uuid("session_id").notNull().references(() => automationSessions.id, { onDelete: "cascade" }),
  createdBy: text("created_by").notNull(),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  /** Set when the link is opened; a used link never works again. */
  usedAt: ts("used_at"),
}, (t) => [index("session_shares_session_idx").on(t.sessionId)]);

/** Files a flow saved for its session (screenshots, PDFs), downloadable by the session's owner. */
export const automationArtifacts = pgTable("automation_artifacts", {
  sessionId: uuid("session_id").notNull().references(() => automationSessions.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  contentType: text("content_type").notNull(),
  size: integer("size").notNull(),
  bytes: bytea("bytes").notNull(),
  createdAt: ts("created_at").notNull(),
}, (t) => [primaryKey({ name: "automation_artifacts_pk", columns: [t.sessionId, t.name] })]);
// ---------------------------------------------------------------- cameras

/** Camera streams a media server (Flussonic, nginx, MediaMTX) serves under their stream name. */
export const cameras = pgTable("cameras", {
  id: uuid("id").primaryKey().defaultRandom(),
  /** The media server's stream name: the first path segment of the play URL. */
  stream: text("stream").notNull().unique(),
  title: text("title").notNull(),
  location: text("location"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

/** Which user may watch which camera. */
export const cameraGrants = pgTable("camera_grants", {
  userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  cameraId: uuid("camera_id").notNull().references(() => cameras.id, { onDelete: "cascade" }),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  primaryKey({ columns: [t.userId, t.cameraId] }),
  index("camera_grants_camera_idx").on(t.cameraId),
]);

/** A user's own concurrent-session limit for camera streams; no row means CAMERA_MAX_SESSIONS. */
export const cameraViewers = pgTable("camera_viewers", {
  userId: uuid("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  /** 0 = unlimited. */
  maxSessions: integer("max_sessions").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

// ---------------------------------------------------------------- legacy automation clients

/**
 * Jobs started through the old booking frontend's API (`POST /api/v1/booking/start`): the `user_id` it
 * sent, echoed in the job's status. The job itself is the automation session.
 */
export const legacyBookingJobs = pgTable("legacy_booking_jobs", {
  sessionId: uuid("session_id").primaryKey().references(() => automationSessions.id, { onDelete: "cascade" }),
  userId: text("user_id").notNull(),
  createdAt: ts("created_at").notNull(),
});

// ---------------------------------------------------------------- smartyard (the SmartYard mobile apps)

/** The apps' opaque bearer tokens, stored as SHA-256; each belongs to a login session (revoking it logs out). */
export const smartyardAppTokens = pgTable(
  "smartyard_app_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: uuid("session_id").notNull().references(() => authSessions.id, { onDelete: "cascade" }),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts("created_at").notNull(),
  },
  (
    t,
  ) => [
    index("smartyard_app_tokens_session_idx").on(t.sessionId),
    index("smartyard_app_tokens_user_idx").on(t.userId),
  ],
);

/** What a user told the apps about themselves: name (user/sendName) and notification switches. */
export const smartyardProfiles = pgTable("smartyard_profiles", {
  userId: uuid("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  name: text("name"),
  patronymic: text("patronymic"),
  notifyMoney: boolean("notify_money").notNull().default(true),
  notifyEnable: boolean("notify_enable").notNull().default(true),
  updatedAt: ts("updated_at").notNull(),
});

/** One push registration per login session (device): user/registerPushToken. */
export const smartyardPushTokens = pgTable("smartyard_push_tokens", {
  sessionId: uuid("session_id").primaryKey().references(() => authSessions.id, { onDelete: "cascade" }),
  userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  platform: text("platform").notNull(),
  pushToken: text("push_token").notNull(),
  pushService: text("push_service"),
  voipToken: text("voip_token"),
  /** iOS `type` (0–3) and `production` as the app sent them. */
  tokenType: integer("token_type"),
  production: boolean("production"),
  updatedAt: ts("updated_at").notNull(),
}, (t) => [index("smartyard_push_tokens_user_idx").on(t.userId)]);

/** Houses the apps list; `id` is the house's number in billing, the apps' `houseId`. */
export const smartyardHouses = pgTable("smartyard_houses", {
  id: integer("id").primaryKey(),
  address: text("address").notNull(),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

/** A door of a house: an intercom panel (`domophoneId`) and its door number, opened by an HTTP GET. */
export const smartyardDoors = pgTable("smartyard_doors", {
  id: uuid("id").primaryKey().defaultRandom(),
  houseId: integer("house_id").notNull().references(() => smartyardHouses.id, { onDelete: "cascade" }),
  domophoneId: integer("domophone_id").notNull(),
  doorId: integer("door_id").notNull().default(0),
  entrance: text("entrance"),
  /** entrance | wicket | gate | barrier (the apps reject anything else). */
  icon: text("icon").notNull(),
  name: text("name").notNull(),
  /** URL template with {domophoneId}, {doorId} and {secret:NAME} (from SMARTYARD_DOOR_SECRETS). */
  openUrl: text("open_url").notNull(),
  /** The panel's camera (cctv/camMap). */
  cameraId: uuid("camera_id").references(() => cameras.id, { onDelete: "set null" }),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
}, (t) => [uniqueIndex("smartyard_doors_house_panel_idx").on(t.houseId, t.domophoneId, t.doorId)]);

/** How the apps show a gatehouse camera: a numeric id (theirs are ints), map position and player settings. */
export const smartyardCameras = pgTable("smartyard_cameras", {
  id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
  cameraId: uuid("camera_id").notNull().unique().references(() => cameras.id, { onDelete: "cascade" }),
  lat: text("lat").notNull(),
  lon: text("lon").notNull(),
  serverType: text("server_type"),
  hlsMode: text("hls_mode"),
  /** The stream base URL when it is not SMARTYARD_DVR_URL/<stream>. */
  dvrUrl: text("dvr_url"),
  hasSound: boolean("has_sound").notNull().default(false),
  updatedAt: ts("updated_at").notNull(),
});

/** Which cameras a house has. */
export const smartyardHouseCameras = pgTable("smartyard_house_cameras", {
  houseId: integer("house_id").notNull().references(() => smartyardHouses.id, { onDelete: "cascade" }),
  cameraId: uuid("camera_id").notNull().references(() => cameras.id, { onDelete: "cascade" }),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  primaryKey({ name: "smartyard_house_cameras_pk", columns: [t.houseId, t.cameraId] }),
  index("smartyard_house_cameras_camera_idx").on(t.cameraId),
]);

/** Addresses an admin gave to a phone number, besides those billing knows. */
export const smartyardAddressGrants = pgTable("smartyard_address_grants", {
  phone: text("phone").notNull(),
  houseId: integer("house_id").notNull().references(() => smartyardHouses.id, { onDelete: "cascade" }),
  flat: text("flat"),
  createdAt: ts("created_at").notNull(),
}, (t) => [
  primaryKey({ name: "smartyard_address_grants_pk", columns: [t.phone, t.houseId] }),
  index("smartyard_address_grants_house_idx").on(t.houseId),
]);

/** The last answers of billing about one phone (getaddresslist, getlist), for access checks and outages. */
export const smartyardBillingCache = pgTable("smartyard_billing_cache", {
  phone: text("phone").primaryKey(),
  addresses: jsonb("addresses").$type<{ houseId: number; address: string }[]>(),
  addressesAt: ts("addresses_at"),
  contracts: jsonb("contracts").$type<
    { clientId: string; contractName: string; address: string; houseId: number | null; services: string[] }[]
  >(),
  contractsAt: ts("contracts_at"),
});

/** Camera grants the SmartYard address sync made (and may take back); admins' own grants are never here. */
export const smartyardCameraGrants = pgTable("smartyard_camera_grants", {
  userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  cameraId: uuid("camera_id").notNull().references(() => cameras.id, { onDelete: "cascade" }),
  createdAt: ts("created_at").notNull(),
}, (t) => [primaryKey({ name: "smartyard_camera_grants_pk", columns: [t.userId, t.cameraId] })]);

/** Card payments: an invoice from billing (pay/prepare), its bank order (pay/register) and its settlement. */
export const smartyardInvoices = pgTable("smartyard_invoices", {
  id: uuid("id").primaryKey().defaultRandom(),
  /** Billing's invoice number: the apps' orderNumber and the bank's orderNumber. */
  number: text("number").notNull().unique(),
  userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
  phone: text("phone").notNull(),
  clientId: text("client_id").notNull(),
  /** Kopecks. */
  amount: bigint("amount", { mode: "number" }).notNull(),
  /** created | registered | paid | declined | expired */
  status: text("status").notNull(),
  bankOrderId: text("bank_order_id").unique(),
  formUrl: text("form_url"),
  /** Set while one request registers the order with the bank, so two cannot. */
  registerClaimedAt: ts("register_claimed_at"),
  registeredAt: ts("registered_at"),
  paidAt: ts("paid_at"),
  /** callback | poll */
  paidVia: text("paid_via"),
  closedReason: text("closed_reason"),
  lastPolledAt: ts("last_polled_at"),
  polls: integer("polls").notNull().default(0),
  /** Billing was told of the payment (once); the claim keeps two instances from telling it twice. */
  billingNotifiedAt: ts("billing_notified_at"),
  notifyClaimedAt: ts("notify_claimed_at"),
  notifyAttempts: integer("notify_attempts").notNull().default(0),
  notifyError: text("notify_error"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
}, (t) => [
  index("smartyard_invoices_status_idx").on(t.status, t.registeredAt),
  index("smartyard_invoices_phone_idx").on(t.phone, t.createdAt),
]);

// ---------------------------------------------------------------- webhooks (durable delivery)

/** Subscriptions: a URL, the event types it wants, and its signing secrets (AES-GCM sealed, never in clear). */
export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: uuid("id").primaryKey().defaultRandom(),
  url: text("url").notNull(),
  /** Event types (`session.started`, …); `*` subscribes to all. */
  events: jsonb("events").$type<string[]>().notNull(),
  enabled: boolean("enabled").notNull().default(true),
  disabledReason: text("disabled_reason"),
  secretSealed: text("secret_sealed").notNull(),
  /** The secret before the last rotation, which keeps signing beside the new one until `previousUntil`. */
  previousSealed: text("previous_sealed"),
  previousUntil: ts("previous_until"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

/**
 * The outbox: one row per message to one target, written in the transaction of the change it reports.
 * Messages of one `orderKey` (an endpoint, or a session's own webhook_url) are delivered one at a time, in id order.
 */
export const webhookMessages = pgTable(
  "webhook_messages",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    /** The stable `webhook-id` of every attempt. */
    msgId: text("msg_id").notNull().unique(),
    endpointId: uuid("endpoint_id").references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    orderKey: text("order_key").notNull(),
    /** `standard` ({type,timestamp,data}) or `booking` (the old booking server's shapes, also HMAC-signed). */
    format: text("format").notNull(),
    eventType: text("event_type").notNull(),
    /** What the body is rendered from. */
    data: jsonb("data").notNull(),
    /** The raw body, frozen at the first attempt so every retry signs the same bytes. */
    body: text("body"),
    /** pending | delivered | failed (schedule exhausted) | cancelled (endpoint disabled or refused target). */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAt: ts("next_at").notNull(),
    lockedBy: text("locked_by"),
    lockedUntil: ts("locked_until"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: ts("created_at").notNull(),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [
    index("webhook_messages_pending_idx").on(t.orderKey, t.id).where(sql`status = 'pending'`),
    index("webhook_messages_due_idx").on(t.nextAt).where(sql`status = 'pending'`),
    index("webhook_messages_endpoint_idx").on(t.endpointId, t.id),
  ],
);

/** Every delivery attempt of a message: when, the answer's status code or the error. */
export const webhookAttempts = pgTable("webhook_attempts", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  messageId: bigint("message_id", { mode: "number" }).notNull()
    .references(() => webhookMessages.id, { onDelete: "cascade" }),
  at: ts("at").notNull(),
  statusCode: integer("status_code"),
  error: text("error"),
  durationMs: integer("duration_ms").notNull(),
}, (t) => [index("webhook_attempts_message_idx").on(t.messageId)]);
