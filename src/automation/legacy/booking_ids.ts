/**
 * The booking frontend's job ids: unguessable, so that one can serve as the credential of its socket
 * (BOOKING_SOCKET_AUTH=job_id). A job id is the base64url of the session id's 16 bytes followed by a
 * 128-bit tag, HMAC-SHA256 under a key derived from JWT_SECRET (43 characters). Without the key a valid id
 * cannot be made, even from a known session id (2^-128 per guess: as strong as 128 random bits), and
 * nothing secret is stored: the id of any booking session is recomputed when it is listed. A new
 * JWT_SECRET changes every job id (as it ends every login).
 */
import { createHmac } from "node:crypto";
import type { Deps } from "../../deps.ts";
import { constantTimeEqual } from "../../crypto.ts";

/** The route pattern of a job id. */
export const JOB_ID_PATTERN = "[A-Za-z0-9_-]{43}";

const TAG_BYTES = 16;

function tag(deps: { config: Pick<Deps["config"], "JWT_SECRET"> }, sessionId: string): Uint8Array {
  const key = `booking-job-v1:${deps.config.JWT_SECRET ?? ""}`;
  return new Uint8Array(createHmac("sha256", key).update(sessionId).digest().subarray(0, TAG_BYTES));
}

const toBase64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

function fromBase64Url(text: string): Uint8Array {
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/** The job id of the booking session `sessionId` (a UUID). */
export function jobIdOf(deps: { config: Pick<Deps["config"], "JWT_SECRET"> }, sessionId: string): string {
  const uuid = Uint8Array.from(sessionId.replaceAll("-", "").match(/../g)!, (h) => parseInt(h, 16));
  return toBase64Url(new Uint8Array([...uuid, ...tag(deps, sessionId)]));
}

/** The session id a job id stands for, or null when it is not a job id this server made. */
export function sessionIdOf(
  deps: { config: Pick<Deps["config"], "JWT_SECRET"> },
  jobId: string,
): string | null {
  if (!new RegExp(`^${JOB_ID_PATTERN}$`).test(jobId)) return null;
  const bytes = fromBase64Url(jobId);
  // One spelling per id: the last character's two spare bits must be zero.
  if (toBase64Url(bytes) !== jobId) return null;
  const h = hex(bytes.subarray(0, 16));
  const sessionId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return constantTimeEqual(hex(bytes.subarray(16)), hex(tag(deps, sessionId))) ? sessionId : null;
}
