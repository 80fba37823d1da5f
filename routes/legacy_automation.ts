/**
 * The old automation clients' exact surfaces, each a thin translation onto the session service (no
 * second engine). README "Legacy clients" documents the shapes.
 *
 * - `GET /ws/legacy`: the vehicle-lookup mobile app (plate as text → `pending` items, `waiting` for the
 *   SMS code, `success` | `fail`). Closing the socket cancels its lookup, as the old server ended its browser.
 * - `GET /captcha/`, `PUT /enable_api/:token`: the tax-portal client (api-access; token = session id).
 * - `/api/v1/booking/…` and `GET /ws/:job_id`: the driving-test booking frontend (exam-booking; job id =
 *   session id).
 *
 * Every surface needs an API key (`x-api-key` or `Authorization: Bearer`) or a user's Bearer access token;
 * sockets answer 401 before the upgrade.
 */
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSContext, WSEvents } from "hono/ws";
import { z } from "zod";
import { authenticate, requireAuth } from "../src/auth/middleware.ts";
import type { Principal } from "../src/auth/middleware.ts";
import { canSee, ownerOf, redeemTicket } from "../src/automation/access.ts";
import type { SessionEvent } from "../src/automation/hub.ts";
import {
  BOOKING_FLOW,
  bookingJobIds,
  bookingMessage,
  bookingResult,
  type BookingStatus,
  bookingStatus,
  bookingUserIds,
  isRunningBookingStatus,
  recordBookingJob,
} from "../src/automation/legacy.ts";
import { requireAutomation } from "../src/automation/mod.ts";
import type { PromptView } from "../src/automation/runtime.ts";
import {
  FINAL_STATUSES,
  type SessionService,
  type SessionStatus,
  type SessionView,
} from "../src/automation/sessions.ts";
import type { Deps } from "../src/deps.ts";
import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  toProblem,
  UnauthorizedError,
  ValidationError,
} from "../src/errors.ts";
import { type AppEnv, validate } from "../src/http.ts";

/** The flow behind `GET /ws/legacy`. */
const VEHICLE_FLOW = "vehicle-lookup";
/** The flow behind `GET /captcha/` and `PUT /enable_api/:token`. */
const TAX_FLOW = "api-access";
/** How long `GET /captcha/` waits for the portal's captcha before giving up (and cancelling). */
export const CAPTCHA_WAIT_MS = 30_000;
/** How long `PUT /enable_api/:token` waits for the portal's verdict (login, then enabling API access). */
export const ENABLE_WAIT_MS = 60_000;
/** Longest text message a legacy socket accepts (a plate or an SMS code). */
const MAX_TEXT_CHARS = 100;

const isFinal = (status: string) => FINAL_STATUSES.includes(status as SessionStatus);

/** Waits (real time, bounded) until `view`'s session shows a prompt other than `skip`, or ends. */
async function untilPromptOrEnd(
  sessions: SessionService,
  view: SessionView,
  options: { timeoutMs: number; skip?: string; signal?: AbortSignal },
): Promise<SessionView> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    if (isFinal(view.status) || (view.prompt && view.prompt.id !== options.skip)) return view;
    const left = deadline - performance.now();
    if (left <= 0 || options.signal?.aborted) return view;
    view = await sessions.waitForEvent(view.id, view.seq, left, options.signal);
  }
}

/** Authenticates a socket request by `?ticket=` (scoped to the session), `?token=`, or the usual headers. */
function socketAuth(
  deps: Deps,
  options: { ticketScope?: (c: Context) => string },
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ticket = options.ticketScope ? c.req.query("ticket") : undefined;
    const token = options.ticketScope ? c.req.query("token") : undefined;
    const principal = ticket
      ? await redeemTicket(deps, ticket, options.ticketScope!(c))
      : await authenticate(deps, {
        authorization: token ? `Bearer ${token}` : c.req.header("authorization"),
        apiKey: c.req.header("x-api-key"),
      });
    if (!principal) throw new UnauthorizedError("A valid API key or Bearer access token is required");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError(426, "Upgrade Required", "This endpoint speaks WebSocket only", {}, {
        upgrade: "websocket",
      });
    }
    c.set("principal", principal);
    await next();
  };
}

/** A problem's detail plus its field messages, as one line for a legacy client. */
function describeError(err: unknown): string {
  const { problem } = toProblem(err);
  const fields = (problem.errors as { message: string }[] | undefined)?.map((e) => e.message) ?? [];
  return [problem.detail ?? problem.title, ...fields].join(": ");
}

// ------------------------------------------------------------------ vehicle-lookup mobile app

/** One message of the car-thingy protocol. */
type VehicleMessage =
  | { status: "pending"; percentage: number; key: string; value: unknown }
  | { status: "waiting"; percentage: 100; key: "input"; value: string }
  | { status: "success"; percentage: 100; key: "message" }
  | { status: "fail"; percentage: 100; key: "message"; value: string };

/** The socket of one mobile app: one lookup at a time; a lookup is cancelled when the socket closes. */
function vehicleSocket(deps: Deps, principal: Principal): WSEvents {
  const sessions = requireAutomation(deps).sessions;
  /** The running lookup: its session (once started), its follower, and the open code prompt. */
  type Lookup = { id?: string; off?: () => void; promptId?: string };
  let lookup: Lookup | undefined;
  let closed = false;
  const send = (ws: WSContext, msg: VehicleMessage) => {
    if (!closed && ws.readyState === 1) ws.send(JSON.stringify(msg));
  };
  const fail = (ws: WSContext, value: string) =>
    send(ws, { status: "fail", percentage: 100, key: "message", value });
  const cancel = (id: string) =>
    void sessions.cancel(id).catch((err) =>
      deps.log.error("cancelling a legacy lookup failed", { session_id: id, error: err })
    );

  const follow = (ws: WSContext, current: Lookup, id: string) => {
    const done = () => {
      current.off?.();
      if (lookup === current) lookup = undefined;
    };
    current.off = sessions.subscribe(id, 0, (event: SessionEvent) => {
      if (lookup !== current) return;
      if (event.type === "progress" && typeof event.data.key === "string") {
        send(ws, {
          status: "pending",
          percentage: Number(event.data.percentage),
          key: event.data.key,
          value: event.data.value,
        });
      } else if (event.type === "prompt") {
        const prompt = event.data.prompt as PromptView;
        if (prompt.kind !== "code") {
          // The protocol has no way to ask for credentials (or anything but the SMS code).
          done();
          fail(
            ws,
            `The vehicle registry asks for ${prompt.kind}, which this client cannot answer; ` +
              `the server needs FLOW_SECRETS for ${VEHICLE_FLOW}`,
          );
          cancel(id);
          return;
        }
        current.promptId = prompt.id;
        send(ws, {
          status: "waiting",
          percentage: 100,
          key: "input",
          value: prompt.error ? `${prompt.error}. ${prompt.message}` : prompt.message,
        });
      } else if (event.type === "prompt_closed" || event.type === "answer") {
        current.promptId = undefined;
      } else if (event.type === "status" && isFinal(String(event.data.status))) {
        done();
        if (event.data.status === "succeeded") {
          send(ws, { status: "success", percentage: 100, key: "message" });
        } else fail(ws, String(event.data.error ?? `The lookup was ${event.data.status}`));
      }
    });
  };

  return {
    async onMessage(evt, ws) {
      if (typeof evt.data !== "string" || evt.data.length > MAX_TEXT_CHARS) {
        fail(
          ws,
          `Send the licence plate, or the SMS code when asked, as text of at most ${MAX_TEXT_CHARS} characters`,
        );
        return;
      }
      const text = evt.data.trim();
      if (!lookup) {
        const current: Lookup = {};
        lookup = current;
        let view: SessionView;
        try {
          view = await sessions.start(ownerOf(principal), VEHICLE_FLOW, { plate: text });
        } catch (err) {
          if (lookup === current) lookup = undefined;
          fail(ws, describeError(err));
          return;
        }
        current.id = view.id;
        if (closed) return cancel(view.id);
        follow(ws, current, view.id);
        return;
      }
      const { id, promptId } = lookup;
      if (!id || !promptId) {
        // A lookup is running and asks nothing: one lookup per socket at a time.
        deps.log.debug("legacy lookup message ignored: no code is asked", { session_id: id });
        return;
      }
      const current = lookup;
      current.promptId = undefined;
      try {
        await sessions.answer(id, promptId, text);
      } catch (err) {
        if (!(err instanceof ValidationError) && !(err instanceof ConflictError)) {
          deps.log.error("answering a legacy lookup's code failed", { session_id: id, error: err });
        }
        if (lookup !== current || !(err instanceof ValidationError)) return; // stale: the session moved on
        current.promptId = promptId;
        send(ws, { status: "waiting", percentage: 100, key: "input", value: describeError(err) });
      }
    },
    onClose() {
      closed = true;
      const current = lookup;
      lookup = undefined;
      current?.off?.();
      if (current?.id) cancel(current.id);
    },
    onError() {
      // onClose follows.
    },
  };
}

// ------------------------------------------------------------------ tax-portal client

/** `{message, errors, data}`, the tax-portal client's answer shape. */
function taxAnswer(
  c: Context,
  status: 200 | 400 | 404 | 500 | 504,
  message: string,
  errors: string[],
  data: Record<string, unknown>,
) {
  return c.json({ message, errors, data }, status);
}

/** The captcha of `view`'s open prompt: base64 PNG without the data: prefix, and its unix time in seconds. */
function captchaData(view: SessionView): { captcha_base64: string; ts: number } {
  const prompt = view.prompt!;
  return {
    captcha_base64: (prompt.image ?? "").replace(/^data:image\/png;base64,/, ""),
    ts: Math.floor(Date.parse(prompt.opened_at) / 1000),
  };
}

/** 500 naming the step that broke, for a failed api-access session. */
function stepFailed(c: Context, view: SessionView) {
  const message = `Step failed on ${view.error_step ?? "session"}`;
  return taxAnswer(c, 500, message, [view.error ?? message], { token: view.id });
}

const tokenNotFound = (c: Context, token: string) =>
  taxAnswer(c, 404, "Token not found", ["Token not found"], { token });

const enableBody = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(200),
  captcha: z.string().trim().min(1).max(100),
});

/** `GET /captcha/` and `PUT /enable_api/:token`. */
function taxRoutes(deps: Deps) {
  const sessions = () => requireAutomation(deps).sessions;
  const captcha = async (c: Context<AppEnv>) => {
    const started = await sessions().start(ownerOf(c.get("principal")), TAX_FLOW, {});
    const view = await untilPromptOrEnd(sessions(), started, {
      timeoutMs: CAPTCHA_WAIT_MS,
      signal: c.req.raw.signal,
    });
    if (view.prompt?.kind === "captcha") {
      return taxAnswer(c, 200, "Token generated", [], { ...captchaData(view), token: view.id });
    }
    if (view.status === "failed") return stepFailed(c, view);
    await sessions().cancel(view.id);
    const message = "The tax portal did not show a captcha in time";
    return taxAnswer(c, 504, message, [view.error ?? message], { token: view.id });
  };
  return new Hono<AppEnv>()
    .get("/captcha/", requireAuth(deps), captcha)
    .get("/captcha", requireAuth(deps), captcha)
    .put("/enable_api/:token", requireAuth(deps), validate("json", enableBody), async (c) => {
      const token = c.req.param("token");
      const body = c.req.valid("json");
      let view: SessionView;
      try {
        view = await sessions().get(token);
      } catch (err) {
        if (err instanceof NotFoundError) return tokenNotFound(c, token);
        throw err;
      }
      if (!canSee(c.get("principal"), view.owner) || view.flow !== TAX_FLOW || isFinal(view.status)) {
        return tokenNotFound(c, token);
      }
      const prompt = view.prompt;
      if (prompt?.kind !== "captcha") {
        // Another PUT is being handled: answering the captcha it brings back would send a stale one.
        throw new ConflictError(`Token ${token} is not waiting for a captcha (a login is in progress)`);
      }

      // Username and password go only where the prompt asks for them (server-side credentials win).
      const names = new Set([...(prompt.fields ?? []).map((f) => f.name), "captcha"]);
      const value = Object.fromEntries(
        (["captcha", "username", "password"] as const).filter((n) => names.has(n)).map((n) => [n, body[n]]),
      );
      try {
        await sessions().answer(token, prompt.id, value);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const now = await sessions().get(token);
        if (now.status === "failed") return stepFailed(c, now);
        if (isFinal(now.status)) return tokenNotFound(c, token);
        throw err; // another request answered this captcha first
      }
      const outcome = await untilPromptOrEnd(sessions(), await sessions().get(token), {
        timeoutMs: ENABLE_WAIT_MS,
        skip: prompt.id,
        signal: c.req.raw.signal,
      });
      if (outcome.status === "succeeded") return taxAnswer(c, 200, "API access enabled", [], { token });
      if (outcome.status === "failed") return stepFailed(c, outcome);
      if (isFinal(outcome.status)) return tokenNotFound(c, token);
      if (outcome.prompt?.kind === "captcha") {
        // A refused login: the same token with a new captcha, and the old service's TTL extension.
        const extended = await sessions().extend(token, deps.config.SESSION_PROMPT_TIMEOUT_S);
        const next = extended.prompt?.id === outcome.prompt.id ? extended : outcome;
        return taxAnswer(c, 400, "Login Unsuccessful", [outcome.prompt.error ?? "Login refused"], {
          token,
          ...captchaData(next),
        });
      }
      const message = "The tax portal did not answer in time";
      return taxAnswer(c, 504, message, [message], { token });
    });
}

// ------------------------------------------------------------------ booking frontend

/** A job as the booking frontend reads it. */
function jobView(view: SessionView, userId: string | null) {
  const status = bookingStatus(view);
  return {
    job_id: view.id,
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

/** The frontend's user id of a job: the one it sent, else the owner's user id (null for API-key sessions). */
function ownerUserId(owner: string): string | null {
  return owner.startsWith("user:") ? owner.slice("user:".length) : null;
}

/** The QR poll answer (and socket message) for a PNG data URL. */
function qrUpdate(jobId: string, imageData: string, timestamp: string) {
  return { type: "qr_update", job_id: jobId, image_data: imageData, timestamp };
}

const startBody = z.object({
  user_id: z.string().trim().min(1).max(200).optional(),
  license_type: z.string().trim().min(1).max(50),
  exam_type: z.string().trim().min(1).max(100),
  locations: z.array(z.string().trim().min(1).max(100)).min(1).max(50),
  webhook_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The booking job `id` if `principal` may see it (any exam-booking session); 404 otherwise. */
async function visibleJob(deps: Deps, principal: Principal, id: string): Promise<SessionView> {
  if (!UUID.test(id)) throw new NotFoundError(`No booking job ${id}`);
  const view = await requireAutomation(deps).sessions.get(id).catch((err) => {
    throw err instanceof NotFoundError ? new NotFoundError(`No booking job ${id}`) : err;
  });
  if (!canSee(principal, view.owner) || view.flow !== BOOKING_FLOW) {
    throw new NotFoundError(`No booking job ${id}`);
  }
  return view;
}

/** The user id shown for `view`. */
async function jobUserId(deps: Deps, view: SessionView): Promise<string | null> {
  return (await bookingUserIds(deps, [view.id])).get(view.id) ?? ownerUserId(view.owner);
}

/** The booking frontend's REST routes, mounted at /api/v1/booking. */
function bookingRoutes(deps: Deps) {
  const auth = requireAuth(deps);
  const sessions = () => requireAutomation(deps).sessions;
  return new Hono<AppEnv>()
    .post("/start", auth, validate("json", startBody), async (c) => {
      const body = c.req.valid("json");
      const principal = c.get("principal");
      let userId: string;
      if (principal.kind === "user") {
        if (body.user_id !== undefined && body.user_id !== principal.userId) {
          throw new ForbiddenError("user_id must be your own user id");
        }
        userId = principal.userId;
      } else {
        if (body.user_id === undefined) {
          throw new ValidationError([{ field: "user_id", message: "is required with an API key" }]);
        }
        userId = body.user_id;
      }
      const view = await sessions().start(ownerOf(principal), BOOKING_FLOW, {
        license_type: body.license_type,
        exam_type: body.exam_type,
        locations: body.locations,
      }, { webhookUrl: body.webhook_url });
      try {
        await recordBookingJob(deps, view.id, userId);
      } catch (err) {
        await sessions().cancel(view.id);
        throw err;
      }
      return c.json({
        job_id: view.id,
        status: "starting",
        message: "Booking automation started",
        webhook_configured: body.webhook_url !== undefined,
        websocket_url: `/ws/${view.id}`,
        qr_polling_url: `/api/v1/booking/${view.id}/qr`,
      });
    })
    .get("/status", auth, async (c) => {
      const principal = c.get("principal");
      const ids = await bookingJobIds(deps, {
        owner: principal.kind === "admin" ? undefined : ownerOf(principal),
        limit: 100,
      });
      const users = await bookingUserIds(deps, ids);
      const views = await Promise.all(ids.map((id) => sessions().get(id)));
      const jobs = views.map((v) => jobView(v, users.get(v.id) ?? ownerUserId(v.owner)));
      return c.json({ jobs, total: jobs.length });
    })
    .get("/status/:job_id", auth, async (c) => {
      const view = await visibleJob(deps, c.get("principal"), c.req.param("job_id"));
      return c.json(jobView(view, await jobUserId(deps, view)));
    })
    .get("/:job_id/qr", auth, async (c) => {
      const view = await visibleJob(deps, c.get("principal"), c.req.param("job_id"));
      const png = view.prompt?.kind === "qr" ? view.prompt.image : undefined;
      if (!png) {
        throw new NotFoundError(`Booking job ${view.id} shows no QR code now (${bookingStatus(view)})`);
      }
      c.header("cache-control", "no-store");
      return c.json(qrUpdate(view.id, png, deps.clock.now().toISOString()));
    })
    .post("/stop", auth, validate("json", z.object({ job_id: z.string().min(1).max(100) })), async (c) => {
      const { job_id } = c.req.valid("json");
      await visibleJob(deps, c.get("principal"), job_id);
      const view = await sessions().cancel(job_id);
      const status = bookingStatus(view);
      return c.json({ job_id, status, message: bookingMessage(status, view.error) });
    });
}

/** `WS /ws/:job_id`: the job's status updates and live QR, then `booking_completed`; the job outlives it. */
function bookingSocket(deps: Deps, view: SessionView): WSEvents {
  const sessions = requireAutomation(deps).sessions;
  const jobId = view.id;
  let off: (() => void) | undefined;
  let closed = false;
  let progress = view.progress;
  let result: unknown = null;
  const send = (ws: WSContext, msg: Record<string, unknown>) => {
    if (!closed && ws.readyState === 1) ws.send(JSON.stringify(msg));
  };
  const statusUpdate = (
    ws: WSContext,
    status: BookingStatus,
    pct: number,
    at: string,
    error?: string | null,
  ) =>
    send(ws, {
      type: "status_update",
      job_id: jobId,
      status,
      message: bookingMessage(status, error),
      progress: pct,
      timestamp: at,
    });
  const finish = (
    ws: WSContext,
    final: SessionView | { status: SessionStatus; error: string | null },
    at: string,
  ) => {
    const status = bookingStatus({ status: final.status, data: {} });
    statusUpdate(ws, status, status === "completed" ? 100 : progress, at, final.error);
    send(ws, {
      type: "booking_completed",
      job_id: jobId,
      success: status === "completed",
      status,
      booking_result: status === "completed" ? bookingResult(result) : null,
      error: final.error,
    });
    off?.();
    ws.close(1000, "job ended");
  };
  return {
    onOpen(_evt, ws) {
      if (isFinal(view.status)) {
        result = view.result;
        finish(ws, view, view.finished_at ?? view.updated_at);
        return;
      }
      statusUpdate(ws, bookingStatus(view), view.progress, view.updated_at);
      off = sessions.subscribe(jobId, view.seq, (event) => {
        if (event.type === "progress") {
          progress = Number(event.data.percentage);
          if (event.data.key === "status" && isRunningBookingStatus(event.data.value)) {
            statusUpdate(ws, event.data.value, progress, event.at);
          }
        } else if (event.type === "image" && typeof event.data.image === "string") {
          send(ws, qrUpdate(jobId, event.data.image, event.at));
        } else if (event.type === "result") {
          result = event.data.result;
        } else if (event.type === "status" && isFinal(String(event.data.status))) {
          finish(ws, {
            status: event.data.status as SessionStatus,
            error: typeof event.data.error === "string" ? event.data.error : null,
          }, event.at);
        }
      });
    },
    onClose() {
      closed = true;
      off?.();
    },
    onError() {
      closed = true;
      off?.();
    },
  };
}

// ------------------------------------------------------------------ mount

/**
 * Every legacy automation surface, mounted at the root. `/ws/legacy` is declared before `/ws/:job_id`, and
 * the job id must look like a session id, so the mobile app's socket never reaches the job socket's chain;
 * `GET /ws` (routes/ws.ts) has no second segment and is not matched here at all.
 */
export function legacyAutomationRoutes(deps: Deps) {
  return new Hono<AppEnv>()
    .get(
      "/ws/legacy",
      socketAuth(deps, {}),
      upgradeWebSocket((c) => {
        requireAutomation(deps);
        return vehicleSocket(deps, c.get("principal"));
      }),
    )
    .route("/", taxRoutes(deps))
    .route("/api/v1/booking", bookingRoutes(deps))
    .get(
      "/ws/:job_id{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}}",
      socketAuth(deps, { ticketScope: (c) => c.req.param("job_id") ?? "" }),
      async (c, next) => {
        await visibleJob(deps, c.get("principal"), c.req.param("job_id")!);
        await next();
      },
      upgradeWebSocket(async (c) => {
        const view = await visibleJob(deps, c.get("principal"), c.req.param("job_id")!);
        return bookingSocket(deps, view);
      }),
    );
}
