/**
 * Prometheus metrics (prom-client), one registry per app so tests never share counters. HTTP series are
 * labelled by route pattern (`/api/v1/sessions/:id`), never by raw path. Gauges read their sources at scrape.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { count, eq } from "drizzle-orm";
import { automationSessions, webhookMessages } from "../db/schema.ts";
import type { Db } from "../db/client.ts";
import type { SmsSender } from "./otp/sms.ts";
import type { ConnStats } from "./conn_guard.ts";

/** What the gauges read when scraped; each is optional (a test app may lack automation). */
export interface MetricsSources {
  db?: Db;
  /** Sessions holding a browser slot on this instance (SessionService.load()). */
  sessionLoad?: () => { running: number };
  /** Browser contexts lent out now (BrowserPool.openContexts). */
  openContexts?: () => number;
  /** Warm contexts with a blank page waiting for a session (BrowserPool.warmPages). */
  warmPages?: () => number;
  /** Media-auth state cache lookups so far. */
  mediaAuthCache?: () => { hits: number; misses: number };
  /** Connections the database pool holds and may hold. */
  dbPool?: () => { used: number; max: number };
  /** The connection guard's open and cut connections (undefined: no guard in front). */
  connections?: () => ConnStats | undefined;
}

/** Route patterns whose 429s are OTP limits, and whose 2xx/4xx are media-auth allows/denies. */
const OTP_REQUEST = /\/(otp\/request|otprequest|user\/requestCode)$/;
const MEDIA_AUTH = /^\/api\/(v1\/media\/auth(\/\w+)?|accessfl)$/;

/** The app's metrics: counters the middleware and wrappers feed, gauges read from `sources` at scrape. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "route" | "status">;
  readonly #duration: Histogram<"method" | "route">;
  readonly #smsSent: Counter<"provider">;
  readonly #smsFailed: Counter<"provider">;
  readonly #otpLimited: Counter<"route">;
  readonly #mediaAuth: Counter<"route" | "result">;
  readonly #promptWait: Histogram;
  readonly #series = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor(sources: MetricsSources = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "gatehouse_http_requests_total",
      help: "HTTP requests by route pattern, method and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.#duration = new Histogram({
      name: "gatehouse_http_request_duration_seconds",
      help: "HTTP request latency by route pattern",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.#smsSent = new Counter({
      name: "gatehouse_otp_sms_sent_total",
      help: "SMS (one-time codes) handed to the provider",
      labelNames: ["provider"],
      registers,
    });
    this.#smsFailed = new Counter({
      name: "gatehouse_otp_sms_failed_total",
      help: "SMS the provider refused or could not take",
      labelNames: ["provider"],
      registers,
    });
    this.#otpLimited = new Counter({
      name: "gatehouse_otp_limited_total",
      help: "Code requests refused by a rate limit (429)",
      labelNames: ["route"],
      registers,
    });
    this.#mediaAuth = new Counter({
      name: "gatehouse_media_auth_total",
      help: "Media-auth checks by result (allow, deny, error)",
      labelNames: ["route", "result"],
      registers,
    });
    this.#promptWait = new Histogram({
      name: "gatehouse_session_prompt_wait_seconds",
      help: "Time a session waited for a human to answer its prompt",
      buckets: [1, 5, 15, 30, 60, 120, 240, 600],
      registers,
    });
    const { db, sessionLoad, openContexts, warmPages, mediaAuthCache, dbPool, connections } = sources;
    new Gauge({
      name: "gatehouse_http_connections_open",
      help: "Client connections the connection guard relays now",
      registers,
      collect() {
        const stats = connections?.();
        if (stats) this.set(stats.open);
      },
    });
    new Counter({
      name: "gatehouse_http_connections_cut_total",
      help: "Client connections the guard closed: header not in time, or silent after the answer",
      labelNames: ["reason"],
      registers,
      collect() {
        const stats = connections?.();
        if (!stats) return;
        this.reset();
        for (const [reason, n] of Object.entries(stats.cut)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: "gatehouse_sessions",
      help: "Automation sessions by status (stored rows)",
      labelNames: ["status"],
      registers,
      async collect() {
        if (!db) return;
        this.reset();
        const rows = await db.select({ status: automationSessions.status, n: count() })
          .from(automationSessions).groupBy(automationSessions.status);
        for (const r of rows) this.set({ status: r.status }, r.n);
      },
    });
    new Gauge({
      name: "gatehouse_session_queue_length",
      help: "Sessions waiting for a browser slot (the service-wide queue in the database)",
      registers,
      async collect() {
        if (!db) return;
        const [row] = await db.select({ n: count() }).from(automationSessions)
          .where(eq(automationSessions.status, "queued"));
        this.set(row?.n ?? 0);
      },
    });
    new Gauge({
      name: "gatehouse_sessions_running",
      help: "Sessions holding a browser slot on this instance",
      registers,
      collect() {
        if (sessionLoad) this.set(sessionLoad().running);
      },
    });
    new Gauge({
      name: "gatehouse_browser_contexts_open",
      help: "Browser contexts lent to sessions",
      registers,
      collect() {
        if (openContexts) this.set(openContexts());
      },
    });
    new Gauge({
      name: "gatehouse_browser_warm_pages",
      help: "Browser contexts with a blank page made ahead of sessions (BROWSER_WARM_PAGES)",
      registers,
      collect() {
        if (warmPages) this.set(warmPages());
      },
    });
    const cache = (name: string, help: string, pick: (s: { hits: number; misses: number }) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (mediaAuthCache) this.set(pick(mediaAuthCache()));
        },
      });
    cache("gatehouse_media_auth_cache_hits", "Media-auth state cache hits so far", (s) => s.hits);
    cache("gatehouse_media_auth_cache_misses", "Media-auth state cache misses so far", (s) => s.misses);
    cache(
      "gatehouse_media_auth_cache_hit_ratio",
      "Media-auth state cache hits / lookups",
      (s) => s.hits + s.misses ? s.hits / (s.hits + s.misses) : 0,
    );
    new Gauge({
      name: "gatehouse_webhook_messages",
      help: "Webhook outbox messages by status (pending is the backlog; failed exhausted their retries)",
      labelNames: ["status"],
      registers,
      async collect() {
        if (!db) return;
        this.reset();
        for (const status of ["pending", "delivered", "failed", "cancelled"]) this.set({ status }, 0);
        const rows = await db.select({ status: webhookMessages.status, n: count() })
          .from(webhookMessages).groupBy(webhookMessages.status);
        for (const r of rows) this.set({ status: r.status }, r.n);
      },
    });
    new Gauge({
      name: "gatehouse_db_pool_connections",
      help: "Database connections in use, and the pool's maximum",
      labelNames: ["state"],
      registers,
      collect() {
        if (!dbPool) return;
        const { used, max } = dbPool();
        this.set({ state: "used" }, used);
        this.set({ state: "max" }, max);
      },
    });
  }

  /** Records one finished request; `route` is the matched pattern. */
  request(method: string, route: string, status: number, seconds: number): void {
    // prom-client hashes a label object on every call: keep each label set's children (bounded by the
    // route patterns, methods and statuses; never raw paths)
    const key = `${method} ${status} ${route}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        requests: this.#requests.labels({ method, route, status: String(status) }),
        duration: this.#duration.labels({ method, route }),
      };
      this.#series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
    if (status === 429 && OTP_REQUEST.test(route)) this.#otpLimited.inc({ route });
    if (MEDIA_AUTH.test(route)) {
      const result = status < 300 ? "allow" : status < 500 ? "deny" : "error";
      this.#mediaAuth.inc({ route, result });
    }
  }

  /** Records how long a prompt waited for its answer. */
  promptAnswered(seconds: number): void {
    this.#promptWait.observe(seconds);
  }

  /** `sms`, counting what it sends and what fails. */
  countingSms(sms: SmsSender): SmsSender {
    return {
      name: sms.name,
      send: async (to, text) => {
        try {
          await sms.send(to, text);
          this.#smsSent.inc({ provider: sms.name });
        } catch (err) {
          this.#smsFailed.inc({ provider: sms.name });
          throw err;
        }
      },
    };
  }
}
