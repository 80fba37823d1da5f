/**
 * Delivers the outbox: claims due messages, posts each once per attempt (15 s timeout, redirects not
 * followed, target re-checked against SSRF rules), signs per Standard Webhooks (and the booking HMAC),
 * and settles the attempt. One worker per instance; any number of instances may share one database.
 */
import { jobIdOf } from "../automation/legacy/booking_ids.ts";
import { eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { automationSessions, legacyBookingJobs, webhookEndpoints } from "../../db/schema.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import {
  type AttemptOutcome,
  type ClaimedMessage,
  claimMessages,
  freezeBody,
  releaseLeases,
  settleMessage,
  standardBody,
} from "./outbox.ts";
import { type SecretBox, signBooking, signWebhook } from "./signing.ts";
import { targetProblem } from "./ssrf.ts";
import { openUrl, scrubUrl } from "./url_seal.ts";

/** What a worker needs. */
export interface WebhookWorkerDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  config: Pick<
    Config,
    | "JWT_SECRET"
    | "WEBHOOK_SECRET"
    | "WEBHOOK_RETRY_SCHEDULE"
    | "WEBHOOK_ALLOW_PRIVATE"
    | "WEBHOOK_TIMEOUT_MS"
  >;
  secrets: SecretBox;
}

/** Tuning of a worker. */
export interface WebhookWorkerOptions {
  /** How often to look for due messages when nothing woke the worker (ms). */
  pollMs?: number;
  /** Messages claimed (and delivered concurrently) at a time. */
  batch?: number;
  /** The worker's name in the lease (unique per instance). */
  name?: string;
  /** On close, how long posts in flight may still finish (and be settled) before they are cut short (ms). */
  closeGraceMs?: number;
}

/** The delivery loop of one instance. */
export class WebhookWorker implements AsyncDisposable {
  readonly name: string;
  readonly #deps: WebhookWorkerDeps;
  readonly #pollMs: number;
  readonly #batch: number;
  readonly #closeGraceMs: number;
  /** Stops claiming. */
  readonly #stop = new AbortController();
  /** Cuts posts in flight short (close, after the grace period). */
  readonly #cut = new AbortController();
  #wake?: () => void;
  /** Opened endpoint secrets, re-read after KEY_CACHE_MS (a rotation reaches every worker within it). */
  readonly #keys = new Map<
    string,
    { readAt: number; current: string; previous?: string; previousUntil: number }
  >();
  #loop?: Promise<void>;

  constructor(deps: WebhookWorkerDeps, options: WebhookWorkerOptions = {}) {
    this.#deps = deps;
    this.#pollMs = options.pollMs ?? 1000;
    this.#batch = options.batch ?? 16;
    this.name = options.name ?? `w_${crypto.randomUUID().slice(0, 8)}`;
    this.#closeGraceMs = options.closeGraceMs ?? 5_000;
  }

  /** Starts the loop (idempotent). */
  start(): this {
    this.#loop ??= this.#run();
    return this;
  }

  /** Looks for due messages now (after a commit that wrote some, or a clock move in tests). */
  kick(): void {
    this.#wake?.();
  }

  /** Runs claim-and-deliver rounds until nothing is due; returns how many attempts were made. For tests and bench. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.#round();
      if (!n) return total;
      total += n;
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let n = 0;
      try {
        n = await this.#round();
      } catch (err) {
        if (signal.aborted) return;
        this.#deps.log.error("webhook worker round failed", { error: err });
      }
      if (n || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#pollMs);
        signal.addEventListener("abort", done, { once: true });
        this.#wake = done;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
      });
      this.#wake = undefined;
    }
  }

  /** One claim of due messages, delivered concurrently (they belong to different order keys). */
  async #round(): Promise<number> {
    const { db, clock, config } = this.#deps;
    const now = clock.now();
    const claimed = await claimMessages(db, {
      worker: this.name,
      now,
      leaseUntil: new Date(now.getTime() + config.WEBHOOK_TIMEOUT_MS + 60_000),
      limit: this.#batch,
    });
    await Promise.all(claimed.map((m) => this.#deliver(m)));
    return claimed.length;
  }

  async #deliver(stored: ClaimedMessage): Promise<void> {
    const { db, clock, config, log, secrets } = this.#deps;
    let outcome: AttemptOutcome;
    const started = performance.now();
    let message = stored;
    try {
      message = { ...stored, url: openUrl(secrets, stored.url) }; // a URL with credentials is kept sealed
      const body = message.body ?? await this.#render(message);
      if (message.body === null) await freezeBody(db, message.id, body);
      outcome = await this.#post(message, body);
    } catch (err) {
      outcome = {
        statusCode: null,
        error: scrubUrl(String(err), message.url),
        durationMs: performance.now() - started,
        result: "retry",
      };
    }
    if (outcome.result !== "delivered") {
      log.warn("webhook attempt failed", {
        msg_id: message.msgId,
        type: message.eventType,
        host: hostOf(message.url),
        attempt: message.attempts,
        status: outcome.statusCode,
        error: outcome.error,
      });
    }
    // A post cut short by close() is not settled: close() hands its lease back and it is sent again.
    if (outcome.aborted) return;
    await settleMessage(db, message, {
      worker: this.name,
      now: clock.now(),
      outcome,
      scheduleS: config.WEBHOOK_RETRY_SCHEDULE,
    });
  }

  async #post(message: ClaimedMessage, body: string): Promise<AttemptOutcome> {
    const { clock, config } = this.#deps;
    const started = performance.now();
    const took = () => performance.now() - started;
    const refused = await targetProblem(message.url, config.WEBHOOK_ALLOW_PRIVATE);
    if (refused) {
      return { statusCode: null, error: `target refused: ${refused}`, durationMs: took(), result: "retry" };
    }
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "gatehouse-webhooks",
      "webhook-id": message.msgId,
      "webhook-timestamp": String(timestamp),
    };
    const secrets = await this.#secretsOf(message);
    if (secrets.length) {
      headers["webhook-signature"] = secrets.map((s) => signWebhook(s, message.msgId, timestamp, body)).join(
        " ",
      );
    }
    if (message.format === "booking") {
      headers["x-webhook-event"] = message.eventType;
      if (config.WEBHOOK_SECRET) headers["x-webhook-signature"] = signBooking(config.WEBHOOK_SECRET, body);
    }
    const timeout = AbortSignal.any([AbortSignal.timeout(config.WEBHOOK_TIMEOUT_MS), this.#cut.signal]);
    try {
      const res = await fetch(message.url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: timeout,
      });
      await res.body?.cancel();
      const statusCode = res.status;
      if (statusCode >= 200 && statusCode <= 299) {
        return { statusCode, error: null, durationMs: took(), result: "delivered" };
      }
      if (statusCode === 410) return { statusCode, error: "410 Gone", durationMs: took(), result: "disable" };
      const retryAfterS = statusCode === 429 || statusCode === 503
        ? retryAfter(res.headers, clock.now())
        : undefined;
      const error = statusCode >= 300 && statusCode <= 399
        ? "redirects are not followed"
        : `HTTP ${statusCode}`;
      return { statusCode, error, durationMs: took(), result: "retry", retryAfterS };
    } catch (err) {
      const error = err instanceof DOMException && err.name === "TimeoutError"
        ? `no answer within ${config.WEBHOOK_TIMEOUT_MS} ms`
        : scrubUrl((err as Error).message, message.url); // fetch's errors name the URL, credentials and all
      return {
        statusCode: null,
        error,
        durationMs: took(),
        result: "retry",
        aborted: this.#cut.signal.aborted,
      };
    }
  }

  /** The secrets that sign `message`: its endpoint's (and the previous one within 24 h of a rotation), else WEBHOOK_SECRET. */
  async #secretsOf(message: ClaimedMessage): Promise<string[]> {
    const { db, clock, config, secrets } = this.#deps;
    if (!message.endpointId) return config.WEBHOOK_SECRET ? [config.WEBHOOK_SECRET] : [];
    let keys = this.#keys.get(message.endpointId);
    if (!keys || performance.now() - keys.readAt > KEY_CACHE_MS) {
      const [ep] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, message.endpointId))
        .limit(1);
      if (!ep) return [];
      keys = {
        readAt: performance.now(),
        current: secrets.open(ep.secretSealed),
        previous: ep.previousSealed ? secrets.open(ep.previousSealed) : undefined,
        previousUntil: ep.previousUntil?.getTime() ?? 0,
      };
      this.#keys.set(message.endpointId, keys);
    }
    const previous = keys.previous && keys.previousUntil > clock.now().getTime() ? [keys.previous] : [];
    return [keys.current, ...previous];
  }

  /** The raw body: `{type, timestamp, data}`, or the booking frontend's envelope with its job's user_id. */
  async #render(message: ClaimedMessage): Promise<string> {
    const timestamp = message.createdAt.toISOString();
    if (message.format === "standard") {
      return standardBody(message.eventType, message.createdAt, message.data);
    }
    const sessionId = message.orderKey.slice("session:".length);
    return JSON.stringify({
      event_type: message.eventType,
      job_id: jobIdOf(this.#deps, sessionId), // the id the booking API handed out, not the session's
      user_id: await this.#bookingUser(sessionId),
      timestamp,
      data: message.data,
    });
  }

  /** The frontend's user_id of job `id`: the one it sent, else the owner's user id. */
  async #bookingUser(id: string): Promise<string | null> {
    const { db } = this.#deps;
    const [job] = await db.select({ userId: legacyBookingJobs.userId }).from(legacyBookingJobs)
      .where(inArray(legacyBookingJobs.sessionId, [id])).limit(1);
    if (job) return job.userId;
    const [s] = await db.select({ owner: automationSessions.owner }).from(automationSessions)
      .where(eq(automationSessions.id, id)).limit(1);
    return s?.owner.startsWith("user:") ? s.owner.slice("user:".length) : null;
  }

  /**
   * Stops claiming, lets posts in flight finish for the grace period, cuts the rest short (their leases are
   * handed back, so another run sends them again with the same webhook-id) and waits for the loop.
   */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    const cut = setTimeout(() => this.#cut.abort(), this.#closeGraceMs);
    try {
      await this.#loop;
    } finally {
      clearTimeout(cut);
    }
    try {
      await releaseLeases(this.#deps.db, this.name);
    } catch (err) {
      this.#deps.log.warn("webhook leases not released; they expire on their own", { error: err });
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const KEY_CACHE_MS = 1_000;

/** Seconds of a Retry-After header (delta-seconds or HTTP date), if any. */
function retryAfter(headers: Headers, now: Date): number | undefined {
  const v = headers.get("retry-after");
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now.getTime()) / 1000)) : undefined;
}

/** The host only: webhook URLs may carry tokens in their path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid url)";
  }
}
