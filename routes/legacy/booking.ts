/**
 * The driving-test booking frontend: REST at /api/v1/booking/… and the job socket `WS /ws/:job_id`
 * (`?token=` or `?ticket=` for browsers; with BOOKING_SOCKET_AUTH=job_id, no credential at all: the job
 * id is one). The jobs are exam-booking sessions; the protocol is in src/automation/legacy/booking.ts and
 * booking_socket.ts. Job ids never reach the request log (they can be credentials).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { z } from "zod";
import { requireAuth } from "../../src/auth/middleware.ts";
import {
  bookingJob,
  bookingQr,
  listBookingJobs,
  startBooking,
  stopBooking,
  visibleJob,
} from "../../src/automation/legacy/booking.ts";
import { JOB_ID_PATTERN, sessionIdOf } from "../../src/automation/legacy/booking_ids.ts";
import { followBookingJob } from "../../src/automation/legacy/booking_socket.ts";
import { requireAutomation } from "../../src/automation/mod.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";
import {
  hasSocketCredentials,
  jsonSocket,
  logoutWatch,
  requireUpgrade,
  socketAuth,
} from "../../src/http_socket.ts";

const startFields = z.object({
  user_id: z.string().trim().min(1).max(200).optional(),
  license_type: z.string().trim().min(1).max(50),
  exam_type: z.string().trim().min(1).max(100),
  locations: z.array(z.string().trim().min(1).max(100)).min(1).max(50),
  webhook_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});
const stopFields = z.object({ job_id: z.string().min(1).max(100) });

/** Logs the path with `:job_id` in place of the job id. */
const hideJobId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const jobId = c.req.param("job_id");
  if (jobId) c.set("logPath", c.req.path.replace(jobId, ":job_id"));
  await next();
};

/** The booking REST routes (mounted at /api/v1/booking). */
export function bookingRoutes(deps: Deps) {
  const auth = requireAuth(deps);
  return new Hono<AppEnv>()
    .post("/start", auth, async (c) => {
      const request = await parseLegacyFields(c, startFields);
      return c.json(await startBooking(deps, c.get("principal"), request));
    })
    .get("/status", auth, async (c) => c.json(await listBookingJobs(deps, c.get("principal"))))
    .get("/status/:job_id", hideJobId, auth, async (c) => {
      return c.json(await bookingJob(deps, c.get("principal"), c.req.param("job_id")));
    })
    .get("/:job_id/qr", hideJobId, auth, async (c) => {
      const qr = await bookingQr(deps, c.get("principal"), c.req.param("job_id"));
      c.header("cache-control", "no-store");
      return c.json(qr);
    })
    .post("/stop", auth, async (c) => {
      const { job_id } = await parseLegacyFields(c, stopFields);
      return c.json(await stopBooking(deps, c.get("principal"), job_id));
    });
}

/**
 * The job socket (mounted at /ws). Only a job-id-shaped segment matches, so `/ws/legacy` and
 * `/ws/<anything else>` never reach it; `GET /ws` (routes/ws.ts) has no second segment. A request without
 * any credential is let in on the job id alone when BOOKING_SOCKET_AUTH=job_id; otherwise 401.
 */
export function bookingSocketRoutes(deps: Deps) {
  const byJobId = (c: Parameters<typeof hasSocketCredentials>[0]) =>
    deps.config.BOOKING_SOCKET_AUTH === "job_id" && !hasSocketCredentials(c);
  const auth = socketAuth(deps, {
    ticketScope: (c) => sessionIdOf(deps, c.req.param("job_id") ?? "") ?? "",
    queryToken: true,
  });
  // 404 before the upgrade for a job the caller may not see.
  const job = (c: Parameters<typeof byJobId>[0]) =>
    visibleJob(deps, byJobId(c) ? null : c.get("principal"), c.req.param("job_id")!);
  return new Hono<AppEnv>().get(
    `/:job_id{${JOB_ID_PATTERN}}`,
    hideJobId,
    async (c, next) => {
      if (!byJobId(c)) return await auth(c, next);
      requireUpgrade(c, deps);
      await next();
    },
    async (c, next) => {
      await job(c);
      await next();
    },
    upgradeWebSocket(async (c) => {
      const view = await job(c);
      const jobId = c.req.param("job_id")!;
      const sessions = requireAutomation(deps).sessions;
      const principal = c.get("principal");
      return jsonSocket((peer) => ({ close: followBookingJob(sessions, { jobId, view }, peer) }), {
        logout: principal ? logoutWatch(deps, principal) : undefined,
        drain: deps.drain,
      });
    }),
  );
}
