/**
 * Card payments through Sberbank acquiring: pay/prepare makes an invoice in billing, pay/register makes the
 * bank order, and the bank's verified callback (or a status poll, see settle.ts) marks the invoice paid once
 * and tells billing once. Money is integer kopecks throughout.
 */
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import { smartyardInvoices } from "../../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { ORDER_STATUS, type OrderState } from "./acquiring.ts";
import type { AppUser } from "./app_tokens.ts";
import { billingContracts } from "./billing_cache.ts";
import { AppMessageError, conflict, notConfigured, notFound, UpstreamError } from "./errors.ts";
import type { SmartyardDeps } from "./mod.ts";

/** An invoice row. */
export type Invoice = typeof smartyardInvoices.$inferSelect;

function noInvoice(number: string) {
  return notFound(`No invoice ${number} for this caller`, "Счёт не найден");
}

/** Makes an invoice in billing for the user's contract `clientId`; answers its number (the apps' orderNumber). */
export async function preparePayment(
  sy: SmartyardDeps,
  user: AppUser,
  input: { clientId: string; amount: number },
): Promise<string> {
  if (!sy.billing) throw notConfigured("Billing (BILLING_URL)");
  if (!sy.bank) throw notConfigured("The bank (SBERBANK_*)");
  if (input.amount > sy.config.SMARTYARD_MAX_PAYMENT_KOPECKS) {
    throw new ValidationError([{
      field: "amount",
      message: `At most ${sy.config.SMARTYARD_MAX_PAYMENT_KOPECKS} kopecks`,
    }]);
  }
  let contracts = await billingContracts(sy, user.phone, "fresh");
  if (!contracts.some((c) => c.clientId === input.clientId)) {
    contracts = await billingContracts(sy, user.phone, "live");
  }
  if (!contracts.some((c) => c.clientId === input.clientId)) {
    throw notFound(`Contract ${input.clientId} is not this user's`, "Договор не найден");
  }
  const number = await sy.billing.createInvoice({ ...input, phone: user.phone });
  const now = sy.clock.now();
  const [row] = await sy.db.insert(smartyardInvoices).values({
    number,
    userId: user.userId,
    phone: user.phone,
    clientId: input.clientId,
    amount: input.amount,
    status: "created",
    createdAt: now,
    updatedAt: now,
  }).onConflictDoNothing().returning();
  if (!row) {
    throw new UpstreamError("billing", `answered invoice number ${number}, which is already used`, 30);
  }
  sy.events.emit("smartyard.invoice_created", { number, user_id: user.userId, amount: input.amount }, now);
  return number;
}

/**
 * Registers the invoice's bank order and answers the payment page. The iOS app calls this without a token, so
 * the number (and the exact amount) identify the invoice; with a token, it must be the caller's. Repeats
 * answer the same order; a payment already made or closed is a 409.
 */
export async function registerPayment(
  sy: SmartyardDeps,
  caller: AppUser | null,
  input: { orderNumber: string; amount: number },
): Promise<{ orderId: string; formUrl: string }> {
  if (!sy.bank) throw notConfigured("The bank (SBERBANK_*)");
  const inv = await invoiceByNumber(sy, input.orderNumber);
  if (!inv || (caller && inv.userId !== caller.userId)) throw noInvoice(input.orderNumber);
  if (input.amount !== inv.amount) {
    throw new ValidationError([{
      field: "amount",
      message: `Does not match the invoice (${inv.amount} kopecks)`,
    }]);
  }
  if (inv.status === "paid") throw conflict(`Invoice ${inv.number} is paid`, "Счёт уже оплачен");
  if (inv.status !== "created" && inv.status !== "registered") {
    throw conflict(`Invoice ${inv.number} is ${inv.status}`, "Счёт закрыт, создайте новый платёж");
  }
  if (inv.bankOrderId && inv.formUrl) return { orderId: inv.bankOrderId, formUrl: inv.formUrl };
  const now = sy.clock.now();
  const lease = new Date(now.getTime() - sy.config.SBERBANK_TIMEOUT_MS - 5000);
  const [claimed] = await sy.db.update(smartyardInvoices).set({ registerClaimedAt: now })
    .where(and(
      eq(smartyardInvoices.id, inv.id),
      isNull(smartyardInvoices.bankOrderId),
      or(isNull(smartyardInvoices.registerClaimedAt), lt(smartyardInvoices.registerClaimedAt, lease)),
    )).returning({ id: smartyardInvoices.id });
  if (!claimed) {
    const again = await invoiceByNumber(sy, inv.number);
    if (again?.bankOrderId && again.formUrl) return { orderId: again.bankOrderId, formUrl: again.formUrl };
    throw new AppMessageError(
      409,
      "Conflict",
      `Invoice ${inv.number} is being registered`,
      "Платёж уже создаётся",
      {
        "retry-after": "5",
      },
    );
  }
  let order: { orderId: string; formUrl: string };
  try {
    order = await sy.bank.register({
      orderNumber: inv.number,
      amount: inv.amount,
      description: `Оплата по договору ${inv.clientId}`,
    });
  } catch (err) {
    await sy.db.update(smartyardInvoices).set({ registerClaimedAt: null }).where(
      eq(smartyardInvoices.id, inv.id),
    );
    throw err;
  }
  await sy.db.update(smartyardInvoices).set({
    bankOrderId: order.orderId,
    formUrl: order.formUrl,
    status: "registered",
    registeredAt: now,
    registerClaimedAt: null,
    updatedAt: now,
  }).where(eq(smartyardInvoices.id, inv.id));
  sy.events.emit("smartyard.order_registered", { number: inv.number }, now);
  return order;
}

/**
 * pay/process: the app says it paid natively (Apple/Google Pay) with bank order `sbId`. Nothing is believed:
 * the order is remembered and asked about now (and by the poller), and paid only when the bank says so.
 */
export async function processPayment(
  sy: SmartyardDeps,
  user: AppUser,
  input: { paymentId: string; sbId?: string },
): Promise<void> {
  const inv = await invoiceByNumber(sy, input.paymentId);
  if (!inv || inv.userId !== user.userId) throw noInvoice(input.paymentId);
  if (inv.status === "paid") return;
  if (input.sbId && inv.bankOrderId && input.sbId !== inv.bankOrderId) {
    throw new ValidationError([{ field: "sbId", message: "Is not this invoice's bank order" }]);
  }
  let current = inv;
  if (input.sbId && !inv.bankOrderId) {
    const now = sy.clock.now();
    const [row] = await sy.db.update(smartyardInvoices).set({
      bankOrderId: input.sbId,
      status: "registered",
      registeredAt: now,
      updatedAt: now,
    }).where(and(
      eq(smartyardInvoices.id, inv.id),
      isNull(smartyardInvoices.bankOrderId),
      sql`not exists (select 1 from ${smartyardInvoices} where ${smartyardInvoices.bankOrderId} = ${input.sbId})`,
    )).returning();
    if (!row) throw new ValidationError([{ field: "sbId", message: "Is another invoice's bank order" }]);
    current = row;
  }
  if (!current.bankOrderId || !sy.bank) return;
  try {
    await pollInvoice(sy, current);
  } catch (err) {
    // The app's flow is over either way; the poller asks again.
    sy.log.warn("pay/process: bank status check failed", {
      number: inv.number,
      reason: (err as Error).message,
    });
  }
}

/** The invoice with this number. */
export async function invoiceByNumber(
  sy: Pick<SmartyardDeps, "db">,
  number: string,
): Promise<Invoice | undefined> {
  const [row] = await sy.db.select().from(smartyardInvoices).where(eq(smartyardInvoices.number, number));
  return row;
}

/** Marks an invoice paid exactly once (whatever else it was: money taken is money owed) and tells billing. */
export async function markPaid(sy: SmartyardDeps, inv: Invoice, via: "callback" | "poll"): Promise<boolean> {
  const now = sy.clock.now();
  const [row] = await sy.db.update(smartyardInvoices)
    .set({ status: "paid", paidAt: now, paidVia: via, closedReason: null, updatedAt: now })
    .where(and(eq(smartyardInvoices.id, inv.id), ne(smartyardInvoices.status, "paid")))
    .returning({ id: smartyardInvoices.id });
  if (!row) return false;
  sy.log.info("invoice paid", { number: inv.number, amount: inv.amount, via });
  sy.events.emit("smartyard.invoice_paid", { number: inv.number, amount: inv.amount, via }, now);
  await notifyBilling(sy, inv.id);
  return true;
}

/**
 * Tells billing about a paid invoice, at most once: the claim (with a lease, for a crashed instance) keeps
 * two instances or a repeated callback from telling it twice; a failure is retried by the poller.
 */
export async function notifyBilling(sy: SmartyardDeps, invoiceId: string): Promise<boolean> {
  if (!sy.billing) return false;
  const now = sy.clock.now();
  const lease = new Date(now.getTime() - 2 * sy.config.BILLING_TIMEOUT_MS - 1000);
  const [inv] = await sy.db.update(smartyardInvoices)
    .set({ notifyClaimedAt: now, notifyAttempts: sql`${smartyardInvoices.notifyAttempts} + 1` })
    .where(and(
      eq(smartyardInvoices.id, invoiceId),
      eq(smartyardInvoices.status, "paid"),
      isNull(smartyardInvoices.billingNotifiedAt),
      or(isNull(smartyardInvoices.notifyClaimedAt), lt(smartyardInvoices.notifyClaimedAt, lease)),
    )).returning();
  if (!inv) return false;
  try {
    await sy.billing.paySuccess({
      clientId: inv.clientId,
      invoice: inv.number,
      amount: inv.amount,
      orderId: inv.bankOrderId ?? "",
      phone: inv.phone,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : "failed";
    await sy.db.update(smartyardInvoices).set({ notifyClaimedAt: null, notifyError: reason })
      .where(eq(smartyardInvoices.id, inv.id));
    sy.log.warn("billing not told of a payment yet; will retry", { number: inv.number, reason });
    return false;
  }
  await sy.db.update(smartyardInvoices)
    .set({ billingNotifiedAt: sy.clock.now(), notifyClaimedAt: null, notifyError: null })
    .where(eq(smartyardInvoices.id, inv.id));
  sy.events.emit("smartyard.billing_notified", { number: inv.number });
  return true;
}

/** Closes an unpaid invoice (declined by the bank, or expired). */
export async function closeInvoice(
  sy: SmartyardDeps,
  inv: Invoice,
  status: "declined" | "expired",
  reason: string,
) {
  const now = sy.clock.now();
  await sy.db.update(smartyardInvoices).set({ status, closedReason: reason, updatedAt: now })
    .where(and(eq(smartyardInvoices.id, inv.id), ne(smartyardInvoices.status, "paid")));
}

/** Asks the bank about one invoice's order and settles it accordingly. */
export async function pollInvoice(sy: SmartyardDeps, inv: Invoice): Promise<OrderState | undefined> {
  if (!sy.bank || !inv.bankOrderId) return undefined;
  const now = sy.clock.now();
  await sy.db.update(smartyardInvoices)
    .set({ lastPolledAt: now, polls: sql`${smartyardInvoices.polls} + 1` }).where(
      eq(smartyardInvoices.id, inv.id),
    );
  const state = await sy.bank.orderStatus(inv.bankOrderId);
  if (state.orderNumber !== null && state.orderNumber !== inv.number) {
    sy.log.error("bank order belongs to another invoice", {
      number: inv.number,
      bank_number: state.orderNumber,
    });
    return state;
  }
  if (state.orderStatus === ORDER_STATUS.deposited) {
    if (state.amount !== null && state.amount !== inv.amount) {
      sy.log.error("bank amount differs from the invoice", {
        number: inv.number,
        amount: inv.amount,
        bank: state.amount,
      });
      return state;
    }
    await markPaid(sy, inv, "poll");
  } else if (state.orderStatus === ORDER_STATUS.declined || state.orderStatus === ORDER_STATUS.reversed) {
    await closeInvoice(sy, inv, "declined", `the bank's orderStatus is ${state.orderStatus}`);
  } else if (
    inv.registeredAt && now.getTime() - inv.registeredAt.getTime() > sy.config.SMARTYARD_ORDER_TTL_S * 1000 &&
    state.orderStatus !== ORDER_STATUS.held
  ) {
    await closeInvoice(sy, inv, "expired", `not paid within ${sy.config.SMARTYARD_ORDER_TTL_S} s`);
  }
  return state;
}
