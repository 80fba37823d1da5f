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

// ---------------------------------------------------------------- cameras
import { primaryKey } from "drizzle-orm/pg-core";

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
