/** The database schema: the single source of truth; `deno task db:generate` derives migrations from it. */
import { boolean, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

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
