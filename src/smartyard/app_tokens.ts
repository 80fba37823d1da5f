/**
 * The apps' bearer tokens. The apps never refresh, so a token is opaque and lives until its login session is
 * revoked (logout, admin); it is stored only as SHA-256 and bound to that gatehouse login session.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import { authSessions, smartyardAppTokens, smartyardPushTokens, users } from "../../db/schema.ts";
import { randomToken, sha256Hex } from "../crypto.ts";
import type { Deps } from "../deps.ts";

/** A caller of the apps' API: the user, their login session and phone. */
export interface AppUser {
  userId: string;
  sessionId: string;
  phone: string;
}

/** An app login as admins see it (never the token). */
export interface AppSession {
  session_id: string;
  created_at: string;
  revoked_at: string | null;
  platform: string | null;
}

/** Tokens longer than this are not even hashed. */
const MAX_TOKEN_CHARS = 512;

/** Makes a new token for a login session; the only time it exists in clear is this answer. */
export async function issueAppToken(
  deps: Pick<Deps, "db" | "clock">,
  session: { userId: string; sessionId: string },
): Promise<string> {
  const token = randomToken(32);
  await deps.db.insert(smartyardAppTokens).values({
    tokenHash: sha256Hex(token),
    sessionId: session.sessionId,
    userId: session.userId,
    createdAt: deps.clock.now(),
  });
  return token;
}

/** The caller behind `token`, or null when it is unknown or its login session was revoked. */
export async function authenticateAppToken(deps: Pick<Deps, "db">, token: string): Promise<AppUser | null> {
  if (!token || token.length > MAX_TOKEN_CHARS) return null;
  const [row] = await deps.db.select({
    userId: smartyardAppTokens.userId,
    sessionId: smartyardAppTokens.sessionId,
    phone: users.phone,
  }).from(smartyardAppTokens)
    .innerJoin(authSessions, eq(authSessions.id, smartyardAppTokens.sessionId))
    .innerJoin(users, eq(users.id, smartyardAppTokens.userId))
    .where(and(eq(smartyardAppTokens.tokenHash, sha256Hex(token)), isNull(authSessions.revokedAt)))
    .limit(1);
  return row ?? null;
}

/** A user's app logins, oldest first, with the platform their push registration names. */
export async function listAppSessions(deps: Pick<Deps, "db">, userId: string): Promise<AppSession[]> {
  const rows = await deps.db.select().from(smartyardAppTokens)
    .innerJoin(authSessions, eq(authSessions.id, smartyardAppTokens.sessionId))
    .leftJoin(smartyardPushTokens, eq(smartyardPushTokens.sessionId, smartyardAppTokens.sessionId))
    .where(eq(smartyardAppTokens.userId, userId))
    .orderBy(asc(smartyardAppTokens.createdAt));
  return rows.map(({ smartyard_app_tokens: token, auth_sessions: session, smartyard_push_tokens: push }) => ({
    session_id: token.sessionId,
    created_at: token.createdAt.toISOString(),
    revoked_at: session.revokedAt?.toISOString() ?? null,
    platform: push?.platform ?? null,
  }));
}

/** True when `sessionId` is an app login (so admins revoke only those through the SmartYard routes). */
export async function isAppSession(deps: Pick<Deps, "db">, sessionId: string): Promise<boolean> {
  const [row] = await deps.db.select({ id: smartyardAppTokens.sessionId }).from(smartyardAppTokens)
    .where(eq(smartyardAppTokens.sessionId, sessionId)).limit(1);
  return !!row;
}
