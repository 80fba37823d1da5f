/**
 * How an exam-booking session reads in the old booking server's vocabulary: job statuses, their
 * messages, the booking result. Pure mapping; the jobs themselves are automation sessions.
 */
import type { SessionView } from "../sessions.ts";

/** The flow behind the booking frontend's jobs. */
export const BOOKING_FLOW = "exam-booking";

/**
 * The old booking server's job statuses with their messages, in the order a job goes through them;
 * `failed` and `stopped` end a job that did not complete (session failed or expired / cancelled).
 */
const MESSAGES = {
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
} as const;

/** A job status of the booking frontend. */
export type BookingStatus = keyof typeof MESSAGES;

/** Every job status, in order. */
export const BOOKING_STATUSES = Object.keys(MESSAGES) as BookingStatus[];

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
