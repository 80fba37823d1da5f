/** The database schema: the single source of truth; `deno task db:generate` derives migrations from it. */
import { boolean, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { bigint, jsonb } from "drizzle-orm/pg-core"; // devices

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
