/**
 * The booking frontend's `user_id` of each job, in `legacy_booking_jobs` (the jobs themselves are
 * exam-booking sessions, read through the session service).
 */
import { inArray } from "drizzle-orm";
import { legacyBookingJobs } from "../../../db/schema.ts";
import type { Deps } from "../../deps.ts";

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
