/**
 * The webhook outbox (webhook_messages): messages are inserted in the transaction of the change they
 * report, then claimed by workers with `FOR UPDATE SKIP LOCKED`, one head message per order key at a
 * time, under a lease, so several instances on one database deliver each message once and in order.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { automationSessions, webhookAttempts, webhookEndpoints, webhookMessages } from "../../db/schema.ts";
import { BOOKING_FLOW } from "../automation/legacy/booking_status.ts";
import {
  bookingEvents,
  type ChangeInfo,
  promptRefresh,
  type PublicEvent,
  sessionEvents,
  type StoredEvent,
} from "./session_events.ts";

/** A claimed message, as the worker delivers it. */
export interface ClaimedMessage {
  id: number;
  msgId: string;
  endpointId: string | null;
  url: string;
  orderKey: string;
  format: "standard" | "booking";
  eventType: string;
  data: Record<string, unknown>;
  body: string | null;
  attempts: number;
  createdAt: Date;
}

/** How one attempt ended. */
export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** delivered; retry (at `nextAt`, or failed when the schedule is exhausted); disable the target (410). */
  result: "delivered" | "retry" | "disable";
  /** Seconds a 429/503 asked us to wait (Retry-After). */
  retryAfterS?: number;
  /** The post was cut short by the worker stopping (not the receiver's doing). */
  aborted?: boolean;
}

type Tx = Pick<Db, "select" | "insert" | "update" | "execute">;
type NewMessage = typeof webhookMessages.$inferInsert;

/** The rows of a raw query on either driver. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
}

function msgId(): string {
  return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** Enabled endpoints subscribed to `type` (exact type or `*`). */
async function subscribers(
  tx: Tx,
  types: string[],
): Promise<{ id: string; url: string; events: string[] }[]> {
  const rows = await tx.select({
    id: webhookEndpoints.id,
    url: webhookEndpoints.url,
    events: webhookEndpoints.events,
  })
    .from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
  return rows.filter((r) => r.events.includes("*") || types.some((t) => r.events.includes(t)));
}

function endpointRows(
  endpoints: { id: string; url: string; events: string[] }[],
  events: PublicEvent[],
  now: Date,
): NewMessage[] {
  const out: NewMessage[] = [];
  for (const e of events) {
    for (const ep of endpoints) {
      if (!ep.events.includes("*") && !ep.events.includes(e.type)) continue;
      out.push(
        message({ endpointId: ep.id, url: ep.url, orderKey: `ep:${ep.id}`, format: "standard" }, e, now),
      );
    }
  }
  return out;
}

function message(
  target: { endpointId: string | null; url: string; orderKey: string; format: "standard" | "booking" },
  e: PublicEvent,
  now: Date,
): NewMessage {
  return {
    ...target,
    msgId: msgId(),
    eventType: e.type,
    data: e.data,
    // a standard body is final now; a booking body needs the job's user_id, recorded just after it starts
    body: target.format === "standard" ? standardBody(e.type, now, e.data) : null,
    status: "pending",
    nextAt: now,
    createdAt: now,
  };
}

/** The Standard Webhooks body `{type, timestamp, data}`. */
export function standardBody(type: string, at: Date, data: unknown): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

/** Writes the messages of a domain event that only subscriptions receive (device.*, firmware.*). */
export async function enqueueEvent(tx: Tx, event: PublicEvent, now: Date): Promise<number> {
  const rows = endpointRows(await subscribers(tx, [event.type]), [event], now);
  if (rows.length) await tx.insert(webhookMessages).values(rows);
  return rows.length;
}

/**
 * Writes the messages of one stored change of session `sessionId` (inside the store's transaction):
 * public events to subscriptions and the session's webhook_url, booking events for exam-booking jobs.
 * With `prompt`, the change is a new QR frame of that open prompt (a `session.prompt` refresh).
 */
export async function enqueueSessionChange(
  tx: Tx,
  change: {
    sessionId: string;
    events: StoredEvent[];
    change: ChangeInfo;
    now: Date;
    bookingUrl?: string;
    prompt?: unknown;
  },
): Promise<number> {
  const refresh = change.prompt !== undefined && change.change.promptImage;
  const probe = { id: change.sessionId, flow: "", input: null, progress: 0 };
  if (!refresh && !sessionEvents(probe, change.events, change.change).length) return 0;
  const [row] = await tx.select({
    flow: automationSessions.flow,
    input: automationSessions.input,
    progress: automationSessions.progress,
    webhookUrl: automationSessions.webhookUrl,
  }).from(automationSessions).where(eq(automationSessions.id, change.sessionId)).limit(1);
  if (!row) return 0;
  const session = { id: change.sessionId, flow: row.flow, input: row.input, progress: row.progress ?? 0 };
  const events = refresh
    ? [promptRefresh(session, change.prompt, refresh)]
    : sessionEvents(session, change.events, change.change);
  const rows = endpointRows(await subscribers(tx, events.map((e) => e.type)), events, change.now);
  const own = { endpointId: null, orderKey: `session:${session.id}` };
  if (row.flow === BOOKING_FLOW) {
    const url = row.webhookUrl ?? change.bookingUrl;
    if (url) {
      for (const e of bookingEvents(session, events, change.now)) {
        rows.push(message({ ...own, url, format: "booking" }, e, change.now));
      }
    }
  } else if (row.webhookUrl) {
    for (const e of events) {
      rows.push(message({ ...own, url: row.webhookUrl, format: "standard" }, e, change.now));
    }
  }
  if (rows.length) await tx.insert(webhookMessages).values(rows);
  return rows.length;
}

/** Claims up to `limit` due head messages (one per order key) for `worker` until `leaseUntil`. */
export async function claimMessages(
  db: Db,
  options: { worker: string; now: Date; leaseUntil: Date; limit: number },
): Promise<ClaimedMessage[]> {
  const now = sql`${options.now.toISOString()}::timestamptz`;
  const result = await db.execute(sql`
    update webhook_messages m
       set locked_by = ${options.worker}, locked_until = ${options.leaseUntil.toISOString()}::timestamptz,
           attempts = m.attempts + 1
     where m.id in (
       select h.id from webhook_messages h
        where h.status = 'pending' and h.next_at <= ${now}
          and (h.locked_until is null or h.locked_until < ${now})
          and not exists (
            select 1 from webhook_messages e
             where e.order_key = h.order_key and e.status = 'pending' and e.id < h.id)
        order by h.id
        limit ${options.limit}
        for update skip locked)
    returning m.id, m.msg_id, m.endpoint_id, m.url, m.order_key, m.format, m.event_type, m.data, m.body,
              m.attempts, m.created_at`);
  return rowsOf<Record<string, unknown>>(result).map((r) => ({
    id: Number(r.id),
    msgId: r.msg_id as string,
    endpointId: r.endpoint_id as string | null,
    url: r.url as string,
    orderKey: r.order_key as string,
    format: r.format as "standard" | "booking",
    eventType: r.event_type as string,
    data: (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
    body: r.body as string | null,
    attempts: Number(r.attempts),
    createdAt: new Date(r.created_at as string),
  })).sort((a, b) => a.id - b.id);
}

/** Freezes the body of message `id` (rendered at its first attempt). */
export async function freezeBody(db: Db, id: number, body: string): Promise<void> {
  await db.update(webhookMessages).set({ body }).where(eq(webhookMessages.id, id));
}

/**
 * Records one attempt of `message` and moves it on: delivered, due again after the schedule's next
 * delay (or Retry-After, whichever is later), failed when the schedule is spent, or (410) its target
 * disabled and every pending message of that target cancelled. Only the lease holder settles.
 */
export async function settleMessage(
  db: Db,
  message: ClaimedMessage,
  options: { worker: string; now: Date; outcome: AttemptOutcome; scheduleS: number[] },
): Promise<void> {
  const { outcome, now } = options;
  const mine = and(eq(webhookMessages.id, message.id), eq(webhookMessages.lockedBy, options.worker));
  const last = {
    lastStatus: outcome.statusCode,
    lastError: outcome.error,
    lockedBy: null,
    lockedUntil: null,
  };
  await db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      messageId: message.id,
      at: now,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: Math.round(outcome.durationMs),
    });
    if (outcome.result === "delivered") {
      await tx.update(webhookMessages).set({ ...last, status: "delivered", deliveredAt: now }).where(mine);
    } else if (outcome.result === "disable") {
      await tx.update(webhookMessages).set({ ...last, status: "cancelled" }).where(mine);
      if (message.endpointId) {
        await tx.update(webhookEndpoints).set({
          enabled: false,
          disabledReason: "The receiver answered 410 Gone",
          updatedAt: now,
        }).where(eq(webhookEndpoints.id, message.endpointId));
      }
      await tx.update(webhookMessages).set({ status: "cancelled", lastError: "target disabled (410 Gone)" })
        .where(and(eq(webhookMessages.orderKey, message.orderKey), eq(webhookMessages.status, "pending")));
    } else {
      const delayS = options.scheduleS[message.attempts];
      if (delayS === undefined) {
        await tx.update(webhookMessages).set({ ...last, status: "failed" }).where(mine);
      } else {
        const wait = Math.max(delayS, Math.min(outcome.retryAfterS ?? 0, 86_400));
        await tx.update(webhookMessages).set({ ...last, nextAt: new Date(now.getTime() + wait * 1000) })
          .where(mine);
      }
    }
  });
}

/** Hands back the messages `worker` holds (a clean stop): they are due again at once, for any instance. */
export async function releaseLeases(db: Db, worker: string): Promise<void> {
  await db.update(webhookMessages).set({ lockedBy: null, lockedUntil: null })
    .where(and(eq(webhookMessages.lockedBy, worker), eq(webhookMessages.status, "pending")));
}
