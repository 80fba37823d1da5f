/** Login sessions: access JWTs plus rotating refresh tokens whose reuse revokes the whole family. */
import { and, eq, isNull, sql } from "drizzle-orm";
import { authSessions, refreshTokens, users } from "../../db/schema.ts";
import { randomToken, sha256Hex } from "../crypto.ts";
import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors.ts";
import { AUTH_CHANNEL, type RevocationMessage } from "./login_cache.ts";

/** The token pair and user returned by a login or a refresh. */
export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  user: { id: string; phone: string };
}

type SessionDeps = Pick<Deps, "db" | "clock" | "jwt" | "config" | "events">;

/** Starts a new login session (a new refresh-token family) for `user`. */
export async function startSession(
  deps: SessionDeps,
  user: { id: string; phone: string },
): Promise<TokenPair> {
  const now = deps.clock.now();
  const [session] = await deps.db.insert(authSessions).values({ userId: user.id, createdAt: now })
    .returning();
  deps.events.emit("auth.login", { user_id: user.id, session_id: session.id }, now);
  return await issuePair(deps, user, session.id);
}

/** Exchanges a refresh token for a new pair; a token used twice revokes its family (stolen-token defence). */
export async function refreshSession(deps: SessionDeps, token: string): Promise<TokenPair> {
  const now = deps.clock.now();
  const invalid = () => new UnauthorizedError("The refresh token is invalid, expired or revoked");
  const [row] = await deps.db.select({ token: refreshTokens, session: authSessions, user: users })
    .from(refreshTokens)
    .innerJoin(authSessions, eq(authSessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(eq(refreshTokens.tokenHash, sha256Hex(token)))
    .limit(1);
  if (!row || row.session.revokedAt) throw invalid();
  if (row.token.expiresAt <= now) throw invalid();
  // Claim the token atomically: of two concurrent refreshes with one token, only one wins.
  const claimed = await deps.db.update(refreshTokens).set({ usedAt: now })
    .where(and(eq(refreshTokens.id, row.token.id), isNull(refreshTokens.usedAt)))
    .returning({ id: refreshTokens.id });
  if (claimed.length === 0) {
    await revokeSession(deps, row.session.id, "refresh_token_reuse");
    deps.events.emit("auth.refresh_reuse", { user_id: row.user.id, session_id: row.session.id }, now);
    throw invalid();
  }
  return await issuePair(deps, { id: row.user.id, phone: row.user.phone }, row.session.id);
}

/** Revokes a session: its refresh tokens stop working and its access tokens fail at the next check. */
export async function revokeSession(
  deps: Pick<Deps, "db" | "clock" | "events">,
  sessionId: string,
  reason: string,
) {
  const now = deps.clock.now();
  const rows = await deps.db.update(authSessions).set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(authSessions.id, sessionId), isNull(authSessions.revokedAt)))
    .returning({ userId: authSessions.userId });
  if (rows.length) {
    deps.events.emit("auth.session_revoked", { session_id: sessionId, user_id: rows[0].userId, reason });
    // Every instance (this one included) drops the login from memory and closes its sockets and streams.
    const msg: RevocationMessage = { session_id: sessionId, user_id: rows[0].userId, reason };
    await deps.db.execute(sql`select pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(msg)})`);
  }
}

/**
 * True when login session `sessionId` exists, is not revoked and belongs to `userId`: from the in-memory
 * LoginSessions when the app has one (no round trip when warm), else one query.
 */
export async function isSessionActive(
  deps: Pick<Deps, "db" | "logins">,
  sessionId: string,
  userId: string,
): Promise<boolean> {
  if (deps.logins) return !!(await deps.logins.check(sessionId, userId));
  const [row] = await deps.db.select({ revokedAt: authSessions.revokedAt, userId: authSessions.userId })
    .from(authSessions).where(eq(authSessions.id, sessionId)).limit(1);
  return !!row && !row.revokedAt && row.userId === userId;
}

async function issuePair(deps: SessionDeps, user: { id: string; phone: string }, sessionId: string) {
  const now = deps.clock.now();
  const refresh = randomToken(32);
  await deps.db.insert(refreshTokens).values({
    sessionId,
    tokenHash: sha256Hex(refresh),
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.config.REFRESH_TOKEN_TTL_S * 1000),
  });
  const ttl = deps.config.ACCESS_TOKEN_TTL_S;
  return {
    access_token: await deps.jwt.sign({ sub: user.id, sid: sessionId }, ttl),
    token_type: "Bearer" as const,
    expires_in: ttl,
    refresh_token: refresh,
    user: { id: user.id, phone: user.phone },
  };
}
