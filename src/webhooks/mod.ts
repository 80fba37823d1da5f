/**
 * Durable webhooks as the app wires them: the session outbox (written by the session store in each
 * change's transaction), the delivery worker, and the key that seals endpoint secrets.
 */
import type { Db } from "../../db/client.ts";
import type { SessionOutbox } from "../automation/session_store.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { enqueueSessionChange } from "./outbox.ts";
import { SecretBox } from "./signing.ts";
import { sealUrl } from "./url_seal.ts";
import { WebhookWorker, type WebhookWorkerOptions } from "./worker.ts";

/** The box that seals endpoint secrets at rest, keyed from JWT_SECRET (main.ts resolves one in development). */
export function secretBoxOf(config: Pick<Config, "JWT_SECRET">): SecretBox {
  return new SecretBox(config.JWT_SECRET ?? "gatehouse-development-webhook-key");
}

/** The outbox the session store writes; `kick` wakes this instance's worker after a commit. */
export function sessionOutbox(
  config: Pick<Config, "BOOKING_WEBHOOK_URL" | "JWT_SECRET">,
  kick: () => void,
): SessionOutbox {
  // copied into each booking message row: sealed when it carries credentials, like a session's webhook_url
  const bookingUrl = config.BOOKING_WEBHOOK_URL && sealUrl(secretBoxOf(config), config.BOOKING_WEBHOOK_URL);
  return {
    write: (tx, change) =>
      enqueueSessionChange(tx, {
        sessionId: change.sessionId,
        events: change.events,
        change: change.patch,
        now: change.now,
        prompt: change.prompt,
        bookingUrl,
      }),
    written: kick,
  };
}

/** A delivery worker for one instance (not started). */
export function createWebhookWorker(
  deps: { db: Db; clock: Clock; log: Logger; config: Config },
  options: WebhookWorkerOptions = {},
): WebhookWorker {
  return new WebhookWorker({ ...deps, secrets: secretBoxOf(deps.config) }, options);
}
