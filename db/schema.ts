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
