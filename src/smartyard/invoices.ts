/** Invoices as admins see them: status, bank order, settlement and whether billing was told. */
import { and, desc, eq, type SQL } from "drizzle-orm";
import { smartyardInvoices } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import type { Invoice } from "./payments.ts";

/** The invoice statuses. */
export const INVOICE_STATUSES = ["created", "registered", "paid", "declined", "expired"] as const;

/** An invoice for admins; `amount` in kopecks. */
export interface InvoiceView {
  number: string;
  status: string;
  amount: number;
  client_id: string;
  phone: string;
  user_id: string | null;
  bank_order_id: string | null;
  paid_via: string | null;
  closed_reason: string | null;
  polls: number;
  billing_notified: boolean;
  notify_attempts: number;
  notify_error: string | null;
  created_at: string;
  registered_at: string | null;
  paid_at: string | null;
  billing_notified_at: string | null;
}

function view(r: Invoice): InvoiceView {
  const { number, status, amount, phone, polls } = r;
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    number,
    status,
    amount,
    client_id: r.clientId,
    phone,
    user_id: r.userId,
    bank_order_id: r.bankOrderId,
    paid_via: r.paidVia,
    closed_reason: r.closedReason,
    polls,
    billing_notified: r.billingNotifiedAt !== null,
    notify_attempts: r.notifyAttempts,
    notify_error: r.notifyError,
    created_at: r.createdAt.toISOString(),
    registered_at: iso(r.registeredAt),
    paid_at: iso(r.paidAt),
    billing_notified_at: iso(r.billingNotifiedAt),
  };
}

/** Invoices, newest first, optionally of one status or phone. */
export async function listInvoices(
  deps: Pick<Deps, "db">,
  filter: { status?: string; phone?: string; limit: number; offset: number },
): Promise<InvoiceView[]> {
  const where: SQL[] = [];
  if (filter.status) where.push(eq(smartyardInvoices.status, filter.status));
  if (filter.phone) where.push(eq(smartyardInvoices.phone, filter.phone));
  const rows = await deps.db.select().from(smartyardInvoices).where(and(...where))
    .orderBy(desc(smartyardInvoices.createdAt), desc(smartyardInvoices.number)).limit(filter.limit)
    .offset(filter.offset);
  return rows.map(view);
}

/** One invoice by number, or a 404. */
export async function getInvoice(deps: Pick<Deps, "db">, number: string): Promise<InvoiceView> {
  const [row] = await deps.db.select().from(smartyardInvoices).where(eq(smartyardInvoices.number, number));
  if (!row) throw new NotFoundError(`No invoice ${number}`);
  return view(row);
}
