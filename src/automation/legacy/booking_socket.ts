/**
 * The booking frontend's job socket (`WS /ws/:job_id`): the current status first, then one
 * `status_update` per status the flow reports, a `qr_update` per QR frame, and at the end the final
 * status and `booking_completed`, after which the server closes the socket (1000). The job outlives the
 * socket; a socket opened on an ended job gets the final two messages.
 */
import type { SessionService, SessionStatus, SessionView } from "../sessions.ts";
import { FINAL_STATUSES } from "../sessions.ts";
import { qrUpdate } from "./booking.ts";
import {
  bookingMessage,
  bookingResult,
  type BookingStatus,
  bookingStatus,
  isRunningBookingStatus,
} from "./booking_status.ts";

/** Where the messages go: the socket, as its route hands it over. */
export interface BookingPeer {
  send(msg: Record<string, unknown>): void;
  close(code: number, reason: string): void;
}

const isFinal = (status: unknown) => FINAL_STATUSES.includes(status as SessionStatus);

/** Follows the job `jobId` (the session `view`) for `peer` until it ends; returns the function that stops. */
export function followBookingJob(
  sessions: SessionService,
  job: { jobId: string; view: SessionView },
  peer: BookingPeer,
): () => void {
  const { jobId, view } = job;
  let progress = view.progress;
  let result: unknown = null;
  const statusUpdate = (status: BookingStatus, pct: number, at: string, error?: string | null) =>
    peer.send({
      type: "status_update",
      job_id: jobId,
      status,
      message: bookingMessage(status, error),
      progress: pct,
      timestamp: at,
    });
  const finish = (final: { status: SessionStatus; error: string | null }, at: string) => {
    const status = bookingStatus({ status: final.status, data: {} });
    statusUpdate(status, status === "completed" ? 100 : progress, at, final.error);
    peer.send({
      type: "booking_completed",
      job_id: jobId,
      success: status === "completed",
      status,
      booking_result: status === "completed" ? bookingResult(result) : null,
      error: final.error,
    });
    peer.close(1000, "job ended");
  };

  if (isFinal(view.status)) {
    result = view.result;
    finish(view, view.finished_at ?? view.updated_at);
    return () => {};
  }
  statusUpdate(bookingStatus(view), view.progress, view.updated_at);
  // `ended` covers a follow API that delivers during subscribe(), before `off` is assigned.
  let ended = false;
  let off = () => {};
  off = sessions.subscribe(view.id, view.seq, (event) => {
    if (event.type === "progress") {
      progress = Number(event.data.percentage);
      if (event.data.key === "status" && isRunningBookingStatus(event.data.value)) {
        statusUpdate(event.data.value, progress, event.at);
      }
    } else if (event.type === "image" && typeof event.data.image === "string") {
      peer.send(qrUpdate(jobId, event.data.image, event.at));
    } else if (event.type === "result") {
      result = event.data.result;
    } else if (event.type === "status" && isFinal(event.data.status)) {
      finish({
        status: event.data.status as SessionStatus,
        error: typeof event.data.error === "string" ? event.data.error : null,
      }, event.at);
      ended = true;
      off();
    }
  });
  if (ended) off();
  return () => off();
}
