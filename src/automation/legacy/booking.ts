/**
 * The driving-test booking frontend's jobs (`/api/v1/booking/…`): a job is an exam-booking session the
 * caller may see, its `user_id` the one the frontend sent (or the owner's), its `job_id` an unguessable
 * id of the session (booking_ids.ts). Each function is one request of the old protocol and answers in its
 * shapes; README "Legacy clients" documents them.
 */
import type { Principal } from "../../auth/principal.ts";
import type { Deps } from "../../deps.ts";
import { ForbiddenError, NotFoundError, ValidationError } from "../../errors.ts";
import { apiKeyIdOf, ownerOf, visibleSession } from "../access.ts";
import { requireAutomation } from "../mod.ts";
import type { SessionView } from "../sessions.ts";
import { jobIdOf, sessionIdOf } from "./booking_ids.ts";
import { bookingUserIds, recordBookingJob } from "./booking_jobs.ts";
import { BOOKING_FLOW, bookingMessage, bookingResult, bookingStatus } from "./booking_status.ts";

/** What the booking functions need from the app. */
export type BookingDeps = Pick<Deps, "automation" | "db" | "clock" | "config">;

/** `POST /api/v1/booking/start`'s request. */
export interface BookingRequest {
  user_id?: string;
  license_type: string;
  exam_type: string;
  locations: string[];
  webhook_url?: string;
}

/** How many jobs `GET /api/v1/booking/status` lists at most. */
export const MAX_LISTED_JOBS = 100;

/** A job as the booking frontend reads it. */
export function jobView(deps: Pick<Deps, "config">, view: SessionView, userId: string | null) {
  const status = bookingStatus(view);
  return {
    job_id: jobIdOf(deps, view.id),
    user_id: userId,
    status,
    message: bookingMessage(status, view.error),
    progress: status === "completed" ? 100 : view.progress,
    booking_result: status === "completed" ? bookingResult(view.result) : null,
    error: view.error,
    error_step: view.error_step,
    created_at: view.created_at,
    updated_at: view.updated_at,
    finished_at: view.finished_at,
  };
}

/** The QR poll answer (and socket message) for a PNG data URL. */
export function qrUpdate(jobId: string, imageData: string, timestamp: string) {
  return { type: "qr_update", job_id: jobId, image_data: imageData, timestamp };
}

/** The frontend's user id of a job it did not name: the owner's user id (null for API-key sessions). */
function ownerUserId(owner: string): string | null {
  return owner.startsWith("user:") ? owner.slice("user:".length) : null;
}

/**
 * The booking job `jobId` (any exam-booking session) if `principal` may see it, or for `null` when the
 * job id itself is the credential (BOOKING_SOCKET_AUTH=job_id); 404 otherwise.
 */
export async function visibleJob(
  deps: Pick<Deps, "automation" | "config">,
  principal: Principal | null,
  jobId: string,
): Promise<SessionView> {
  const notFound = new NotFoundError("No such booking job");
  const id = sessionIdOf(deps, jobId);
  if (!id) throw notFound;
  const view =
    await (principal ? visibleSession(deps, principal, id) : requireAutomation(deps).sessions.get(id)).catch(
      (err) => {
        throw err instanceof NotFoundError ? notFound : err;
      },
    );
  if (view.flow !== BOOKING_FLOW) throw notFound;
  return view;
}

/**
 * Starts a job: `user_id` is required with an API key and must be the caller's own for a user (403
 * otherwise); the job's user id is recorded, and the session is cancelled if that fails.
 */
export async function startBooking(deps: BookingDeps, principal: Principal, request: BookingRequest) {
  let userId: string;
  if (principal.kind === "user") {
    if (request.user_id !== undefined && request.user_id !== principal.userId) {
      throw new ForbiddenError("user_id must be your own user id");
    }
    userId = principal.userId;
  } else {
    if (request.user_id === undefined) {
      throw new ValidationError([{ field: "user_id", message: "is required with an API key" }]);
    }
    userId = request.user_id;
  }
  const sessions = requireAutomation(deps).sessions;
  const view = await sessions.start(ownerOf(principal), BOOKING_FLOW, {
    license_type: request.license_type,
    exam_type: request.exam_type,
    locations: request.locations,
  }, { webhookUrl: request.webhook_url, apiKeyId: apiKeyIdOf(principal) });
  try {
    await recordBookingJob(deps, view.id, userId);
  } catch (err) {
    await sessions.cancel(view.id);
    throw err;
  }
  const jobId = jobIdOf(deps, view.id);
  return {
    job_id: jobId,
    status: "starting",
    message: "Booking automation started",
    webhook_configured: request.webhook_url !== undefined,
    websocket_url: `/ws/${jobId}`,
    qr_polling_url: `/api/v1/booking/${jobId}/qr`,
  };
}

/** The caller's jobs (every job for an admin), newest first: one query for the jobs, one for their user ids. */
export async function listBookingJobs(deps: BookingDeps, principal: Principal) {
  const views = await requireAutomation(deps).sessions.list({
    flow: BOOKING_FLOW,
    owner: principal.kind === "admin" ? undefined : ownerOf(principal),
    limit: MAX_LISTED_JOBS,
  });
  const users = await bookingUserIds(deps, views.map((v) => v.id));
  const jobs = views.map((v) => jobView(deps, v, users.get(v.id) ?? ownerUserId(v.owner)));
  return { jobs, total: jobs.length };
}

/** One job as the frontend reads it. */
export async function bookingJob(deps: BookingDeps, principal: Principal, id: string) {
  const view = await visibleJob(deps, principal, id);
  const users = await bookingUserIds(deps, [view.id]);
  return jobView(deps, view, users.get(view.id) ?? ownerUserId(view.owner));
}

/** The job's current QR as a `qr_update`; 404 when no QR is up. */
export async function bookingQr(deps: BookingDeps, principal: Principal, id: string) {
  const view = await visibleJob(deps, principal, id);
  const png = view.prompt?.kind === "qr" ? view.prompt.image : undefined;
  if (!png) throw new NotFoundError(`Booking job ${id} shows no QR code now (${bookingStatus(view)})`);
  return qrUpdate(id, png, deps.clock.now().toISOString());
}

/** Stops (cancels) a job; an ended job answers its final status. */
export async function stopBooking(deps: BookingDeps, principal: Principal, id: string) {
  const job = await visibleJob(deps, principal, id);
  const view = await requireAutomation(deps).sessions.cancel(job.id);
  const status = bookingStatus(view);
  return { job_id: id, status, message: bookingMessage(status, view.error) };
}
