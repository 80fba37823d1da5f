/**
 * The driving-test booking frontend: REST at /api/v1/booking/… and the job socket `WS /ws/:job_id`
 * (`?token=` or `?ticket=` for browsers). The jobs are exam-booking sessions; the protocol is in
 * src/automation/legacy/booking.ts and booking_socket.ts.
 */
import { Hono } from "hono";
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
import { followBookingJob } from "../../src/automation/legacy/booking_socket.ts";
import { requireAutomation } from "../../src/automation/mod.ts";
import type { Deps } from "../../src/deps.ts";
import type { AppEnv } from "../../src/http.ts";
import { parseLegacyFields } from "../../src/http_legacy.ts";
import { jsonSocket, logoutWatch, socketAuth } from "../../src/http_socket.ts";

const startFields = z.object({
  user_id: z.string().trim().min(1).max(200).optional(),
  license_type: z.string().trim().min(1).max(50),
  exam_type: z.string().trim().min(1).max(100),
  locations: z.array(z.string().trim().min(1).max(100)).min(1).max(50),
  webhook_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});
const stopFields = z.object({ job_id: z.string().min(1).max(100) });

/** The booking REST routes (mounted at /api/v1/booking). */
export function bookingRoutes(deps: Deps) {
  const auth = requireAuth(deps);
  return new Hono<AppEnv>()
    .post("/start", auth, async (c) => {
      const request = await parseLegacyFields(c, startFields);
      return c.json(await startBooking(deps, c.get("principal"), request));
    })
    .get("/status", auth, async (c) => c.json(await listBookingJobs(deps, c.get("principal"))))
    .get("/status/:job_id", auth, async (c) => {
      return c.json(await bookingJob(deps, c.get("principal"), c.req.param("job_id")));
    })
    .get("/:job_id/qr", auth, async (c) => {
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
 * The job socket (mounted at /ws). Only a session-id-shaped segment matches, so `/ws/legacy` and
 * `/ws/<anything else>` never reach it; `GET /ws` (routes/ws.ts) has no second segment.
 */
export function bookingSocketRoutes(deps: Deps) {
  return new Hono<AppEnv>().get(
    "/:job_id{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}}",
    socketAuth(deps, { ticketScope: (c) => c.req.param("job_id") ?? "", queryToken: true }),
    async (c, next) => {
      // 404 before the upgrade for a job the caller may not see.
      await visibleJob(deps, c.get("principal"), c.req.param("job_id")!);
      await next();
    },
    upgradeWebSocket(async (c) => {
      const view = await visibleJob(deps, c.get("principal"), c.req.param("job_id")!);
      const sessions = requireAutomation(deps).sessions;
      return jsonSocket((peer) => ({ close: followBookingJob(sessions, view, peer) }), {
        logout: logoutWatch(deps, c.get("principal")),
      });
    }),
  );
}
