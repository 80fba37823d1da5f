/**
 * What the legacy automation clients (routes/legacy_automation.ts) need beyond the session service: the
 * booking frontend's `user_id` per job, and how a session reads in the old booking server's vocabulary
 * (job statuses, messages, booking result). The jobs themselves are automation sessions; nothing here
 * runs a browser.
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import { automationSessions, legacyBookingJobs } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { SessionView } from "./sessions.ts";

/** The flow behind the booking frontend's jobs. */
export const BOOKING_FLOW = "exam-booking";

/**
 * The old booking server's job statuses, in the order a job goes through them; `failed` and `stopped`
 * end a job that did not complete (session failed or expired / cancelled).
 */
export const BOOKING_STATUSES = [
  "starting",
  "navigating",
  "login",
  "bankid",
  "qr_waiting",
  "authenticated",
  "configuring",
  "locations",
  "searching",
  "booking",
  "completed",
  "failed",
  "stopped",
] as const;

/** A job status of the booking frontend. */
export type BookingStatus = typeof BOOKING_STATUSES[number];

const MESSAGES: Record<BookingStatus, string> = {
  starting: "Initializing browser",
  navigating: "Loading the booking website",
  login: "Opening the login page",
  bankid: "Starting BankID authentication",
  qr_waiting: "Waiting for BankID authentication",
  authenticated: "BankID authentication completed",
  configuring: "Selecting license and exam type",
  locations: "Selecting test locations",
  searching: "Looking for available slots",
  booking: "Booking the slot found",
  completed: "Booking completed",
  failed: "Booking failed",
  stopped: "Booking stopped",
};

/** True for a status the exam-booking flow reports as progress `("status", s)` while it runs. */
export function isRunningBookingStatus(value: unknown): value is BookingStatus {
  return typeof value === "string" && BOOKING_STATUSES.includes(value as BookingStatus) &&
    value !== "completed" && value !== "failed" && value !== "stopped";
}

/**
 * The job status of a session: `completed` once it succeeded (not when the flow merely reports it: the
 * result is stored a moment later), `failed` when it failed or expired, `stopped` when cancelled, else
 * the last status the flow reported (`starting` before the first).
 */
export function bookingStatus(view: Pick<SessionView, "status" | "data">): BookingStatus {
  switch (view.status) {
    case "succeeded":
      return "completed";
    case "failed":
    case "expired":
      return "failed";
    case "cancelled":
      return "stopped";
  }
  const reported = view.data.status;
  return isRunningBookingStatus(reported) ? reported : reported === "completed" ? "booking" : "starting";
}

/** The human message of a job status; a failed job's message is the session's error. */
export function bookingMessage(status: BookingStatus, error?: string | null): string {
  return status === "failed" && error ? error : MESSAGES[status];
}

/** The old server's booking result (`booking_id`, `exam_date`, `exam_time`, plus the location) from the flow's. */
export function bookingResult(result: unknown): Record<string, string> | null {
  if (typeof result !== "object" || result === null) return null;
  const r = result as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    booking_id: str(r.booking_id),
    exam_date: str(r.date),
    exam_time: str(r.time),
    location: str(r.location),
  };
}

/** Stores the frontend's `user_id` of the job (session) `sessionId`. */
export async function recordBookingJob(
  deps: Pick<Deps, "db" | "clock">,
  sessionId: string,
  userId: string,
): Promise<void> {
  await deps.db.insert(legacyBookingJobs).values({ sessionId, userId, createdAt: deps.clock.now() });
}

/** The frontend's `user_id` of each of `sessionIds` that was started through the booking API. */
export async function bookingUserIds(
  deps: Pick<Deps, "db">,
  sessionIds: string[],
): Promise<Map<string, string>> {
  if (!sessionIds.length) return new Map();
  const rows = await deps.db.select({ id: legacyBookingJobs.sessionId, userId: legacyBookingJobs.userId })
    .from(legacyBookingJobs).where(inArray(legacyBookingJobs.sessionId, sessionIds));
  return new Map(rows.map((r) => [r.id, r.userId]));
}

/** Ids of the exam-booking sessions (jobs), newest first, optionally only `owner`'s. */
export async function bookingJobIds(
  deps: Pick<Deps, "db">,
  filter: { owner?: string; limit: number },
): Promise<string[]> {
  const rows = await deps.db.select({ id: automationSessions.id }).from(automationSessions)
    .where(and(
      eq(automationSessions.flow, BOOKING_FLOW),
      filter.owner ? eq(automationSessions.owner, filter.owner) : undefined,
    ))
    .orderBy(desc(automationSessions.createdAt), desc(automationSessions.id)).limit(filter.limit);
  return rows.map((r) => r.id);
}
