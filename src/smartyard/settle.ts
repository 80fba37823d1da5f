/**
 * Settlement without callbacks: orders still unpaid SMARTYARD_POLL_AFTER_S after registration are asked about
 * (getOrderStatusExtended.do) every SMARTYARD_POLL_INTERVAL_S; billing notices that failed are retried.
 */
import { and, asc, eq, isNotNull, isNull, lt, lte, or } from "drizzle-orm";
import { smartyardInvoices } from "../../db/schema.ts";
import type { SmartyardDeps } from "./mod.ts";
import { closeInvoice, notifyBilling, pollInvoice } from "./payments.ts";

/** What one settlement pass did. */
export interface SettleReport {
  polled: number;
  failed: number;
  expired: number;
  notified: number;
}

const BATCH = 50;

/** One pass: poll due orders, expire invoices never registered, retry billing notices. */
export async function settlePending(sy: SmartyardDeps): Promise<SettleReport> {
  const report: SettleReport = { polled: 0, failed: 0, expired: 0, notified: 0 };
  const now = sy.clock.now().getTime();
  const cfg = sy.config;
  if (sy.bank) {
    const due = await sy.db.select().from(smartyardInvoices).where(and(
      eq(smartyardInvoices.status, "registered"),
      isNotNull(smartyardInvoices.bankOrderId),
      lte(smartyardInvoices.registeredAt, new Date(now - cfg.SMARTYARD_POLL_AFTER_S * 1000)),
      or(
        isNull(smartyardInvoices.lastPolledAt),
        lte(smartyardInvoices.lastPolledAt, new Date(now - cfg.SMARTYARD_POLL_INTERVAL_S * 1000)),
      ),
    )).orderBy(asc(smartyardInvoices.registeredAt)).limit(BATCH);
    for (const inv of due) {
      try {
        await pollInvoice(sy, inv);
        report.polled++;
      } catch (err) {
        report.failed++;
        sy.log.warn("order status check failed", { number: inv.number, reason: (err as Error).message });
      }
    }
  }
  const stale = await sy.db.select().from(smartyardInvoices).where(and(
    eq(smartyardInvoices.status, "created"),
    lt(smartyardInvoices.createdAt, new Date(now - cfg.SMARTYARD_ORDER_TTL_S * 1000)),
  )).limit(BATCH);
  for (const inv of stale) {
    await closeInvoice(sy, inv, "expired", "never registered with the bank");
    report.expired++;
  }
  const unnotified = await sy.db.select({ id: smartyardInvoices.id }).from(smartyardInvoices).where(and(
    eq(smartyardInvoices.status, "paid"),
    isNull(smartyardInvoices.billingNotifiedAt),
  )).orderBy(asc(smartyardInvoices.paidAt)).limit(BATCH);
  for (const inv of unnotified) {
    if (await notifyBilling(sy, inv.id)) report.notified++;
  }
  return report;
}

/** Runs settlePending every SMARTYARD_POLL_INTERVAL_S: each pass is scheduled after the previous one ends. */
export class PaymentSettler implements AsyncDisposable {
  readonly #sy: SmartyardDeps;
  #timer?: ReturnType<typeof setTimeout>;
  #pass: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(sy: SmartyardDeps) {
    this.#sy = sy;
  }

  /** Schedules the first pass. */
  start(): this {
    this.#next();
    return this;
  }

  #next(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.#once().finally(() => this.#next());
    }, this.#sy.config.SMARTYARD_POLL_INTERVAL_S * 1000);
  }

  async #once(): Promise<void> {
    try {
      const r = await settlePending(this.#sy);
      if (r.polled || r.expired || r.notified || r.failed) this.#sy.log.info("payments settled", { ...r });
    } catch (err) {
      this.#sy.log.error("payment settlement failed", { error: err });
    }
  }

  /** Stops scheduling and waits for a pass under way. */
  close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return this.#pass;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
