/**
 * The media-auth decision: may the bearer of this camera token watch this stream now?
 *
 * Media servers ask on every play session and again every X-AuthDuration, so this path never waits
 * for the database in the steady state:
 * - the token is a JWT (audience CAMERA_TOKEN_AUDIENCE) verified in memory; verified tokens are
 *   remembered, so a repeat check costs a map lookup and an expiry comparison;
 * - what can change after issue (the login session revoked by logout, grants revoked, cameras renamed
 *   or deleted, the user's session limit) is cached per auth session for at most MEDIA_AUTH_CACHE_S,
 *   then read again. So a change made on any instance sharing the database reaches every check within
 *   MEDIA_AUTH_CACHE_S; on the instance that made it, at once (domain events drop the cached state).
 */
import { eq } from "drizzle-orm";
import { authSessions, cameraGrants, cameras, cameraViewers } from "../../db/schema.ts";
import type { AccessClaims } from "../auth/jwt.ts";
import type { Deps } from "../deps.ts";
import { CAMERA_TOKEN_AUDIENCE, packId } from "./tokens.ts";

/** Why a check was denied (for debug logs and tests; media servers only see 403/401). */
export type DenyReason =
  | "missing_token"
  | "invalid_token"
  | "expired"
  | "missing_stream"
  | "session_revoked"
  | "not_granted"
  | "not_in_token";

/** The answer to one media-auth check. */
export type MediaAuthDecision =
  | {
    allow: true;
    userId: string;
    /** How long the media server may cache the allow: min(MEDIA_AUTH_CACHE_S, token life left), ≥ 1. */
    durationS: number;
    /** The user's concurrent-session limit; 0 = unlimited. */
    maxSessions: number;
  }
  | { allow: false; reason: DenyReason };

interface VerifiedToken {
  userId: string;
  sessionId: string;
  cameras: Set<string>;
  issuedAtMs: number;
  expiresAtMs: number;
}

interface SessionState {
  active: boolean;
  userId: string;
  /** Stream name → packed camera id, for the cameras the user is granted. */
  streams: Map<string, string>;
  maxSessions: number;
}

interface CacheEntry {
  loadedAtMs: number;
  promise: Promise<SessionState>;
  value?: SessionState;
  /** The newest token issue time for which this entry was already reloaded on a stream miss. */
  reloadedForIatMs: number;
}

/** Tokens longer than this are not even parsed. */
const MAX_TOKEN_CHARS = 8192;

/** Checks camera tokens against streams with in-memory verification and a bounded state cache. */
export class CameraAuth implements Disposable {
  readonly #deps: Pick<Deps, "db" | "clock" | "config" | "jwt" | "events" | "log" | "logins">;
  readonly #tokens = new Map<string, VerifiedToken>();
  readonly #sessions = new Map<string, CacheEntry>();
  readonly #maxTokens: number;
  readonly #maxSessions: number;
  readonly #unsubscribe: (() => void)[];
  #hits = 0;
  #misses = 0;

  constructor(
    deps: Pick<Deps, "db" | "clock" | "config" | "jwt" | "events" | "log" | "logins">,
    options: { maxTokens?: number; maxSessions?: number } = {},
  ) {
    this.#deps = deps;
    this.#maxTokens = options.maxTokens ?? 20_000;
    this.#maxSessions = options.maxSessions ?? 100_000;
    this.#unsubscribe = [
      deps.events.on("auth.session_revoked", (e) => this.invalidateSession(String(e.data.session_id))),
      deps.events.on("camera.grant", (e) => this.invalidateUser(String(e.data.user_id))), // granted, grant_revoked
      deps.events.on("camera.viewer_updated", (e) => this.invalidateUser(String(e.data.user_id))),
      deps.events.on("camera.updated", () => this.clear()),
      deps.events.on("camera.deleted", () => this.clear()),
    ];
  }

  /** Decides whether `token` may play `stream` now. Throws only on internal failure (database down). */
  async check(
    token: string | null | undefined,
    stream: string | null | undefined,
  ): Promise<MediaAuthDecision> {
    if (!token) return { allow: false, reason: "missing_token" };
    if (!stream) return { allow: false, reason: "missing_stream" };
    const claims = await this.#verify(token);
    if (!claims) return { allow: false, reason: "invalid_token" };
    const nowMs = this.#deps.clock.now().getTime();
    // Whole seconds only: X-AuthDuration must never reach past the token's expiry.
    const leftS = Math.floor((claims.expiresAtMs - nowMs) / 1000);
    if (leftS < 1) return { allow: false, reason: "expired" };
    // cluster: a logout on any instance is known here at once (broadcast), before the cached state expires.
    if (this.#deps.logins?.isRevoked(claims.sessionId)) return { allow: false, reason: "session_revoked" };

    let state = await this.#state(claims.sessionId, nowMs);
    if (!state.active || state.userId !== claims.userId) return { allow: false, reason: "session_revoked" };
    let cameraId = state.streams.get(stream);
    if (cameraId === undefined) {
      // A token issued after this state was read may name a camera granted since: read again, once.
      const entry = this.#sessions.get(claims.sessionId);
      if (
        entry && entry.loadedAtMs < claims.issuedAtMs + 1000 && entry.reloadedForIatMs < claims.issuedAtMs
      ) {
        this.#sessions.delete(claims.sessionId);
        state = await this.#state(claims.sessionId, nowMs, claims.issuedAtMs);
        if (!state.active || state.userId !== claims.userId) {
          return { allow: false, reason: "session_revoked" };
        }
        cameraId = state.streams.get(stream);
      }
      if (cameraId === undefined) return { allow: false, reason: "not_granted" };
    }
    if (!claims.cameras.has(cameraId)) return { allow: false, reason: "not_in_token" };
    return {
      allow: true,
      userId: claims.userId,
      durationS: Math.min(this.#deps.config.MEDIA_AUTH_CACHE_S, leftS),
      maxSessions: state.maxSessions,
    };
  }

  /** Forgets the cached state of one auth session (it was revoked here). */
  invalidateSession(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  /** Forgets the cached state of every session of one user (their grants or limit changed here). */
  invalidateUser(userId: string): void {
    for (const [sid, entry] of this.#sessions) {
      // An entry still loading has no value yet: drop it too, it may have read the old grants.
      if (!entry.value || entry.value.userId === userId) this.#sessions.delete(sid);
    }
  }

  /** Forgets all cached state (a camera was renamed or deleted here). */
  clear(): void {
    this.#sessions.clear();
  }

  /** Sizes of the two caches and the state cache's hits and misses so far, for metrics and tests. */
  stats(): { tokens: number; sessions: number; hits: number; misses: number } {
    return {
      tokens: this.#tokens.size,
      sessions: this.#sessions.size,
      hits: this.#hits,
      misses: this.#misses,
    };
  }

  [Symbol.dispose](): void {
    for (const off of this.#unsubscribe) off();
    this.#tokens.clear();
    this.#sessions.clear();
  }

  async #verify(token: string): Promise<VerifiedToken | null> {
    const known = this.#tokens.get(token);
    if (known) return known;
    if (token.length > MAX_TOKEN_CHARS) return null;
    let payload: (AccessClaims & { exp: number; cams?: unknown; iat?: unknown }) | null;
    try {
      payload = await this.#deps.jwt.verify(token, CAMERA_TOKEN_AUDIENCE);
    } catch (err) {
      // Verification is pure computation on untrusted input: whatever it throws, the token is no good.
      this.#deps.log.warn("camera token verification threw", { error: err });
      return null;
    }
    if (!payload) return null;
    const { cams, iat } = payload;
    if (!Array.isArray(cams) || !cams.every((c) => typeof c === "string") || typeof iat !== "number") {
      return null;
    }
    const verified: VerifiedToken = {
      userId: payload.sub,
      sessionId: payload.sid,
      cameras: new Set(cams as string[]),
      issuedAtMs: iat * 1000,
      expiresAtMs: payload.exp * 1000,
    };
    // Only verified tokens are remembered, so garbage cannot fill the map; expired ones age out first.
    if (this.#tokens.size >= this.#maxTokens) this.#evictTokens();
    this.#tokens.set(token, verified);
    return verified;
  }

  #evictTokens(): void {
    const nowMs = this.#deps.clock.now().getTime();
    for (const [t, v] of this.#tokens) if (v.expiresAtMs <= nowMs) this.#tokens.delete(t);
    // Still full: drop the oldest tenth (insertion order); they are verified again if seen again.
    let drop = this.#tokens.size >= this.#maxTokens ? Math.ceil(this.#maxTokens / 10) : 0;
    for (const t of this.#tokens.keys()) {
      if (drop-- <= 0) break;
      this.#tokens.delete(t);
    }
  }

  #state(sessionId: string, nowMs: number, reloadedForIatMs = 0): Promise<SessionState> {
    const entry = this.#sessions.get(sessionId);
    const ttlMs = this.#deps.config.MEDIA_AUTH_CACHE_S * 1000;
    if (entry && nowMs - entry.loadedAtMs < ttlMs) {
      this.#hits++;
      return entry.value ? Promise.resolve(entry.value) : entry.promise;
    }
    this.#misses++;
    if (entry) this.#sessions.delete(sessionId);
    if (this.#sessions.size >= this.#maxSessions) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const fresh: CacheEntry = {
      loadedAtMs: nowMs,
      promise: this.#load(sessionId),
      reloadedForIatMs: Math.max(reloadedForIatMs, entry?.reloadedForIatMs ?? 0),
    };
    this.#sessions.set(sessionId, fresh);
    fresh.promise.then(
      (value) => (fresh.value = value),
      () => {
        // Failures are not cached: the next check tries the database again.
        if (this.#sessions.get(sessionId) === fresh) this.#sessions.delete(sessionId);
      },
    );
    return fresh.promise;
  }

  async #load(sessionId: string): Promise<SessionState> {
    const { db, config } = this.#deps;
    const [session] = await db.select({ userId: authSessions.userId, revokedAt: authSessions.revokedAt })
      .from(authSessions).where(eq(authSessions.id, sessionId)).limit(1);
    if (!session || session.revokedAt) {
      return { active: false, userId: session?.userId ?? "", streams: new Map(), maxSessions: 0 };
    }
    const granted = await db.select({ id: cameras.id, stream: cameras.stream }).from(cameraGrants)
      .innerJoin(cameras, eq(cameras.id, cameraGrants.cameraId))
      .where(eq(cameraGrants.userId, session.userId));
    const [viewer] = await db.select({ max: cameraViewers.maxSessions }).from(cameraViewers)
      .where(eq(cameraViewers.userId, session.userId));
    return {
      active: true,
      userId: session.userId,
      streams: new Map(granted.map((g) => [g.stream, packId(g.id)])),
      maxSessions: viewer ? viewer.max : config.CAMERA_MAX_SESSIONS,
    };
  }
}
