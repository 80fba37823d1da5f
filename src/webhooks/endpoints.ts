/**
 * Webhook subscriptions (admin API): create (the `whsec_` secret is shown once), list, get, update,
 * delete, rotate the secret (the old one keeps signing for 24 h), and their deliveries with a manual retry.
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "../../db/schema.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { isSessionId } from "../automation/session_store.ts";
import { newWebhookSecret, type SecretBox } from "./signing.ts";
import { assertPublicTarget } from "./ssrf.ts";
import { openUrl, sealUrl } from "./url_seal.ts";

/** What the subscription functions need. */
export interface EndpointDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, "WEBHOOK_ALLOW_PRIVATE">;
  secrets: SecretBox;
}

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

type EndpointRow = typeof webhookEndpoints.$inferSelect;

/** An endpoint as the API shows it (never its secret; its URL opened when stored sealed). */
function endpointView(r: EndpointRow, box: SecretBox) {
  const { id, events, enabled } = r;
  return {
    id,
    url: openUrl(box, r.url),
    events,
    enabled,
    disabled_reason: r.disabledReason,
    previous_secret_until: r.previousUntil?.toISOString() ?? null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

async function endpointRow(deps: Pick<EndpointDeps, "db">, id: string): Promise<EndpointRow> {
  if (!isSessionId(id)) throw new NotFoundError(`No webhook endpoint ${id}`);
  const [row] = await deps.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).limit(1);
  if (!row) throw new NotFoundError(`No webhook endpoint ${id}`);
  return row;
}

/** Creates an endpoint; 422 when `url` is refused as a target. Its secret is in this answer only. */
export async function createEndpoint(deps: EndpointDeps, input: { url: string; events: string[] }) {
  await assertPublicTarget(input.url, deps.config.WEBHOOK_ALLOW_PRIVATE);
  const secret = newWebhookSecret();
  const now = deps.clock.now();
  const [row] = await deps.db.insert(webhookEndpoints).values({
    url: sealUrl(deps.secrets, input.url), // credentials in the URL are sealed at rest (issue 15, item 11)
    events: [...new Set(input.events)],
    secretSealed: deps.secrets.seal(secret),
    createdAt: now,
    updatedAt: now,
  }).returning();
  return { ...endpointView(row, deps.secrets), secret };
}

/** Every endpoint, newest first. */
export async function listEndpoints(deps: Pick<EndpointDeps, "db" | "secrets">) {
  const rows = await deps.db.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.createdAt));
  return { endpoints: rows.map((r) => endpointView(r, deps.secrets)) };
}

/** One endpoint; 404 when there is none. */
export async function getEndpoint(deps: Pick<EndpointDeps, "db" | "secrets">, id: string) {
  return endpointView(await endpointRow(deps, id), deps.secrets);
}

/** Changes url, events or enabled; re-enabling clears the reason it was disabled. */
export async function updateEndpoint(
  deps: EndpointDeps,
  id: string,
  patch: { url?: string; events?: string[]; enabled?: boolean },
) {
  await endpointRow(deps, id);
  if (patch.url !== undefined) await assertPublicTarget(patch.url, deps.config.WEBHOOK_ALLOW_PRIVATE);
  const url = patch.url === undefined ? undefined : sealUrl(deps.secrets, patch.url);
  const [row] = await deps.db.update(webhookEndpoints).set({
    ...(url !== undefined ? { url } : {}),
    ...(patch.events !== undefined ? { events: [...new Set(patch.events)] } : {}),
    ...(patch.enabled !== undefined ? { enabled: patch.enabled, disabledReason: null } : {}),
    updatedAt: deps.clock.now(),
  }).where(eq(webhookEndpoints.id, id)).returning();
  if (url !== undefined) {
    await deps.db.update(webhookMessages).set({ url })
      .where(and(eq(webhookMessages.endpointId, id), eq(webhookMessages.status, "pending")));
  }
  return endpointView(row, deps.secrets);
}

/** Deletes an endpoint and its undelivered messages. */
export async function deleteEndpoint(deps: Pick<EndpointDeps, "db">, id: string): Promise<void> {
  await endpointRow(deps, id);
  await deps.db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
}

/** A new secret (shown once); the current one keeps signing beside it for 24 h. */
export async function rotateSecret(deps: EndpointDeps, id: string) {
  const row = await endpointRow(deps, id);
  const secret = newWebhookSecret();
  const now = deps.clock.now();
  const [updated] = await deps.db.update(webhookEndpoints).set({
    secretSealed: deps.secrets.seal(secret),
    previousSealed: row.secretSealed,
    previousUntil: new Date(now.getTime() + ROTATION_OVERLAP_MS),
    updatedAt: now,
  }).where(eq(webhookEndpoints.id, id)).returning();
  return { ...endpointView(updated, deps.secrets), secret };
}

/** The latest `limit` messages of an endpoint with their attempts, newest first. */
export async function listDeliveries(deps: Pick<EndpointDeps, "db">, id: string, limit = 50) {
  await endpointRow(deps, id);
  const messages = await deps.db.select().from(webhookMessages).where(eq(webhookMessages.endpointId, id))
    .orderBy(desc(webhookMessages.id)).limit(limit);
  const attempts = messages.length
    ? await deps.db.select().from(webhookAttempts)
      .where(inArray(webhookAttempts.messageId, messages.map((m) => m.id))).orderBy(webhookAttempts.id)
    : [];
  return {
    deliveries: messages.map((m) => ({
      id: m.msgId,
      event_type: m.eventType,
      status: m.status,
      attempts: m.attempts,
      next_attempt_at: m.status === "pending" ? m.nextAt.toISOString() : null,
      last_status_code: m.lastStatus,
      last_error: m.lastError,
      created_at: m.createdAt.toISOString(),
      delivered_at: m.deliveredAt?.toISOString() ?? null,
      attempt_log: attempts.filter((a) => a.messageId === m.id).map((a) => ({
        at: a.at.toISOString(),
        status_code: a.statusCode,
        error: a.error,
        duration_ms: a.durationMs,
      })),
    })),
  };
}

/** Sends a failed or cancelled delivery again, now, with a fresh retry schedule; 409 while it is pending. */
export async function retryDelivery(
  deps: Pick<EndpointDeps, "db" | "clock">,
  id: string,
  deliveryId: string,
) {
  await endpointRow(deps, id);
  const [m] = await deps.db.select().from(webhookMessages)
    .where(and(eq(webhookMessages.endpointId, id), eq(webhookMessages.msgId, deliveryId))).limit(1);
  if (!m) throw new NotFoundError(`No delivery ${deliveryId} of webhook endpoint ${id}`);
  if (m.status === "pending") throw new ConflictError(`Delivery ${deliveryId} is already pending`);
  await deps.db.update(webhookMessages).set({
    status: "pending",
    attempts: 0,
    nextAt: deps.clock.now(),
    lockedBy: null,
    lockedUntil: null,
  }).where(eq(webhookMessages.id, m.id));
  return { id: deliveryId, status: "pending" };
}
