/** A session's statuses and the one table of moves between them (LiveSession.transition enforces it). */

/** Where a session is in its life. */
export type SessionStatus =
  | "queued"
  | "running"
  | "waiting"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "expired";

/** Statuses a session never leaves. */
export const FINAL_STATUSES: readonly SessionStatus[] = ["succeeded", "failed", "cancelled", "expired"];
/** Statuses of a session that still holds (or waits for) a browser context. */
export const ACTIVE_STATUSES: readonly SessionStatus[] = ["queued", "running", "waiting"];
/** Every status, for validating filters. */
export const SESSION_STATUSES = [...ACTIVE_STATUSES, ...FINAL_STATUSES] as const;

/** True when `status` is one a session never leaves. */
export function isFinalStatus(status: string): boolean {
  return FINAL_STATUSES.includes(status as SessionStatus);
}

const ENDINGS: readonly SessionStatus[] = ["failed", "cancelled", "expired"];

/** The legal moves: a session starts queued, runs, waits at prompts, and ends exactly once. */
const MOVES: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  queued: ["running", ...ENDINGS],
  running: ["waiting", "succeeded", ...ENDINGS],
  // A flow may return while a prompt it never closed is open (its answer is simply not awaited).
  waiting: ["running", "succeeded", ...ENDINGS],
  succeeded: [],
  failed: [],
  cancelled: [],
  expired: [],
};

/** True when a session may move from `from` to `to`. */
export function canMove(from: SessionStatus, to: SessionStatus): boolean {
  return MOVES[from].includes(to);
}

/** Thrown by an illegal status move: always a bug in the caller. */
export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
  constructor(from: SessionStatus, to: SessionStatus) {
    super(`A session cannot move from ${from} to ${to}`);
  }
}

/** The error of sessions that were active when the server stopped. */
export const INTERRUPTED = "interrupted: the server restarted while this session was active";

/** Thrown into a flow that touches its session after the session ended (cancelled, expired, failed). */
export class SessionEndedError extends Error {
  override name = "SessionEndedError";
}

/** Rejects the answer of a prompt closed without one. */
export class PromptClosedError extends Error {
  override name = "PromptClosedError";
}
