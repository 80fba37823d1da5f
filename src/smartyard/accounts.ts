/** The apps' personal account: user/getPaymentsList (and user/getBillingList) from billing's getlist. */
import type { AppUser } from "./app_tokens.ts";
import type { BillingAccount } from "./billing.ts";
import { billingPlaces } from "./billing_cache.ts";
import type { SmartyardDeps } from "./mod.ts";
import { kopecksToRubles } from "./money.ts";
import { type Tf, tf } from "./profile.ts";

/** A contract as the apps read it (iOS APIPaymentsListAccount: numbers for money, "t"/"f" blocked). */
export interface AppAccount {
  clientId: string;
  contractName: string;
  contractPayName: string;
  blocked: Tf;
  balance: number;
  bonus: number;
  payAdvice?: number;
  services: string[];
  lcab?: string;
  lcabPay?: string;
  clientName?: string;
}

/** An address with its contracts (iOS APIPaymentsListAddress: optional string houseId/flatId). */
export interface AppPaymentsAddress {
  address: string;
  houseId?: string;
  flatId?: string;
  accounts: AppAccount[];
}

function toAppAccount(a: BillingAccount): AppAccount {
  const out: AppAccount = {
    clientId: a.clientId,
    contractName: a.contractName,
    contractPayName: a.contractPayName,
    blocked: tf(a.blocked),
    balance: kopecksToRubles(a.balance),
    bonus: kopecksToRubles(a.bonus),
    services: a.services,
  };
  if (a.payAdvice !== null) out.payAdvice = kopecksToRubles(a.payAdvice);
  if (a.lcab) out.lcab = a.lcab;
  if (a.lcabPay) out.lcabPay = a.lcabPay;
  if (a.clientName) out.clientName = a.clientName;
  return out;
}

/** The user's contracts with current balances, asked of billing live (a billing failure is a 502). */
export async function paymentsList(sy: SmartyardDeps, user: AppUser): Promise<AppPaymentsAddress[]> {
  const places = await billingPlaces(sy, user.phone);
  return places.map((p) => ({
    address: p.address,
    ...(p.houseId !== null ? { houseId: String(p.houseId) } : {}),
    ...(p.flatId !== null ? { flatId: p.flatId } : {}),
    accounts: p.accounts.map(toAppAccount),
  }));
}
