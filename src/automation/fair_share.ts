/**
 * Fair share of the browser pool: one user, or one API key, may hold only so many active sessions, so a
 * single caller cannot fill every running and queued slot (issue 15 item 1). An API key is told from another
 * by its id (src/auth/api_keys.ts), stored as the session's api_key_id while its owner stays "admin". Counted
 * in the database under the queue's admission lock (SessionStore.create), so it is exact across instances.
 */
import { AppError } from "../errors.ts";
import type { Config } from "../config.ts";

/** Retry-After of a fair-share refusal: the caller's own sessions must end first. */
export const FAIR_SHARE_RETRY_AFTER_S = 10;

/** 429: the owner already has as many active sessions as one caller may (not the pool being full). */
export class SessionQuotaError extends AppError {
  constructor(detail: string, limit: number, active: number) {
    super(429, "Too Many Requests", detail, {
      retry_after: FAIR_SHARE_RETRY_AFTER_S,
      reason: "session_quota",
      limit,
      active,
    }, { "retry-after": String(FAIR_SHARE_RETRY_AFTER_S) });
  }
}

/** The cap that applies to `owner`: MAX_SESSIONS_PER_USER for `user:…`, else MAX_SESSIONS_PER_API_KEY (0: none). */
export function sessionCap(
  config: Pick<Config, "MAX_SESSIONS_PER_USER" | "MAX_SESSIONS_PER_API_KEY">,
  owner: string,
): number {
  return owner.startsWith("user:") ? config.MAX_SESSIONS_PER_USER : config.MAX_SESSIONS_PER_API_KEY;
}

/**
 * Throws SessionQuotaError when `owner` (with one API key: that key) already has `cap` (> 0) active sessions.
 * Keyless legacy clients (an owner of their own, no key) share one cap.
 */
export function assertFairShare(owner: string, cap: number, active: number): void {
  if (cap <= 0 || active < cap) return;
  const who = owner.startsWith("user:")
    ? "this user already has"
    : owner === "admin"
    ? "this API key already has"
    : "the keyless clients already have";
  throw new SessionQuotaError(
    `Cannot start session: ${who} ${active} active session(s), the most one caller may have is ${cap}; ` +
      "wait for one to end or cancel one",
    cap,
    active,
  );
}
