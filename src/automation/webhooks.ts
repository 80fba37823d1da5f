/**
 * Best-effort, in-process webhook delivery of session events, signed per Standard Webhooks when
 * WEBHOOK_SECRET is set. Not durable: a delivery that fails is logged and dropped. The durable outbox
 * with retries (ROADMAP "Signed webhooks with durable delivery") replaces this sender later.
 */
import { createHmac } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";

/** Options of a sender. */
export interface WebhookSenderOptions {
  /** `whsec_<base64>`; when set, every delivery carries webhook-id/-timestamp/-signature headers. */
  secret?: string;
  clock: Clock;
  log: Logger;
  /** Per-delivery timeout (Standard Webhooks suggests ~15 s; a best-effort sender keeps it short). */
  timeoutMs?: number;
}

/** Signs `body` as Standard Webhooks v1: base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** Posts JSON events to per-session URLs, one at a time per URL key so receivers see them in order. */
export class WebhookSender implements AsyncDisposable {
  readonly #options: WebhookSenderOptions;
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inflight = new Set<AbortController>();
  #closed = false;
  #sent = 0;
  #failed = 0;

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
  }

  /** Queues `{type, timestamp, data}` for `url`; `key` orders deliveries (the session id). */
  send(key: string, url: string, type: string, data: Record<string, unknown>): void {
    if (this.#closed) return;
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.#deliver(url, type, data));
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  async #deliver(url: string, type: string, data: Record<string, unknown>): Promise<void> {
    const { clock, log, secret } = this.#options;
    const now = clock.now();
    const id = `msg_${crypto.randomUUID().replaceAll("-", "")}`;
    const timestamp = Math.floor(now.getTime() / 1000);
    const body = JSON.stringify({ type, timestamp: now.toISOString(), data });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "gatehouse-webhooks",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
    };
    if (secret) headers["webhook-signature"] = signWebhook(secret, id, timestamp, body);
    const abort = new AbortController();
    this.#inflight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.#options.timeoutMs ?? 5000);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: abort.signal,
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) {
        this.#failed++;
        log.warn("webhook refused", { type, host: hostOf(url), status: res.status });
      } else this.#sent++;
    } catch (err) {
      this.#failed++;
      log.warn("webhook delivery failed", { type, host: hostOf(url), error: err });
    } finally {
      clearTimeout(timer);
      this.#inflight.delete(abort);
    }
  }

  /** Deliveries queued or in flight (backlog), and those accepted (2xx) or failed so far: for /metrics. */
  stats(): { backlog: number; sent: number; failed: number } {
    return { backlog: this.#chains.size, sent: this.#sent, failed: this.#failed };
  }

  /** Waits for queued deliveries (each bounded by the timeout); later sends are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#chains.size) await Promise.allSettled([...this.#chains.values()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The host only: webhook URLs may carry tokens in their path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid url)";
  }
}
