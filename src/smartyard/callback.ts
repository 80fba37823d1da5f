/**
 * The bank's callback (securepayments.sberbank.ru/wiki integration:api:callback): `mdOrder, orderNumber,
 * operation, status, checksum` (+ any extra parameters the merchant enabled). Only a genuine checksum is
 * believed; then `deposited` + `status=1` marks the invoice paid, once, however often the bank repeats it.
 */
import { eq } from "drizzle-orm";
import { smartyardInvoices } from "../../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { verifyCallback } from "./acquiring.ts";
import { AppMessageError, notFound } from "./errors.ts";
import type { SmartyardDeps } from "./mod.ts";
import { closeInvoice, markPaid } from "./payments.ts";

/** What a callback did. */
export type CallbackResult = "paid" | "already_paid" | "declined" | "ignored";

const REQUIRED = ["mdOrder", "orderNumber", "operation", "status", "checksum"] as const;

/** Checks and applies one callback; a forged or unverifiable one is a 403 and changes nothing. */
export async function handleCallback(
  sy: SmartyardDeps,
  params: Record<string, string>,
): Promise<CallbackResult> {
  const missing = REQUIRED.filter((k) => !params[k]);
  if (missing.length) throw new ValidationError(missing.map((field) => ({ field, message: "is required" })));
  if (!sy.callbackKeys.secret && !sy.callbackKeys.publicKey) {
    sy.log.warn("bank callback refused: set SBERBANK_CALLBACK_SECRET or SBERBANK_CALLBACK_CERT", {
      number: params.orderNumber,
    });
    throw new AppMessageError(403, "Forbidden", "Callbacks cannot be verified here", "Доступ запрещён");
  }
  if (!verifyCallback(params, sy.callbackKeys)) {
    sy.log.warn("bank callback with a bad checksum refused", { number: params.orderNumber });
    throw new AppMessageError(403, "Forbidden", "The checksum does not match", "Доступ запрещён");
  }
  const [inv] = await sy.db.select().from(smartyardInvoices).where(
    eq(smartyardInvoices.bankOrderId, params.mdOrder),
  );
  if (!inv || inv.number !== params.orderNumber) {
    throw notFound(`No invoice ${params.orderNumber} with bank order ${params.mdOrder}`, "Счёт не найден");
  }
  if (params.amount !== undefined && Number(params.amount) !== inv.amount) {
    sy.log.error("bank callback amount differs from the invoice", {
      number: inv.number,
      amount: inv.amount,
      bank: params.amount,
    });
    throw new AppMessageError(409, "Conflict", "The amount differs from the invoice", "Сумма не совпадает");
  }
  const ok = params.status === "1";
  switch (params.operation) {
    case "deposited":
      if (!ok) return "ignored";
      return (await markPaid(sy, inv, "callback")) ? "paid" : "already_paid";
    case "declinedByTimeout":
      await closeInvoice(sy, inv, "declined", "declinedByTimeout");
      return "declined";
    default:
      // approved (a two-stage hold), reversed, refunded: nothing to credit; noted for operators.
      sy.log.info("bank callback noted", {
        number: inv.number,
        operation: params.operation,
        status: params.status,
      });
      return "ignored";
  }
}
