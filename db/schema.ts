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

// ---------------------------------------------------------------- automation sessions
// (imports of this section kept here so branches merge without touching the header)
import { customType, jsonb, primaryKey } from "drizzle-orm/pg-core";

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
}, (t) => [
  index("automation_sessions_owner_idx").on(t.owner, t.createdAt),
  index("automation_sessions_status_idx").on(t.status),
]);

/** The ordered event log of a session: one row per event, numbered from 1 per session. */
export const automationEvents = pgTable("automation_events", {
  sessionId: uuid("session_id").notNull().references(() => automationSessions.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  type: text("type").notNull(),
  data: jsonb("data").notNull(),
  at: ts("at").notNull(),
}, (t) => [primaryKey({ name: "automation_events_pk", columns: [t.sessionId, t.seq] })]);

/** Files a flow saved for its session (screenshots, PDFs), downloadable by the session's owner. */
export const automationArtifacts = pgTable("automation_artifacts", {
  sessionId: uuid("session_id").notNull().references(() => automationSessions.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  contentType: text("content_type").notNull(),
  size: integer("size").notNull(),
  bytes: bytea("bytes").notNull(),
  createdAt: ts("created_at").notNull(),
}, (t) => [primaryKey({ name: "automation_artifacts_pk", columns: [t.sessionId, t.name] })]);
