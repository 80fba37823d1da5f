/** The SmartYard adapter's dependencies: gatehouse's, plus the billing and bank clients built from config. */
import type { Deps } from "../deps.ts";
import {
  type CallbackKeys,
  callbackKeysFromConfig,
  type SberbankClient,
  sberbankFromConfig,
} from "./acquiring.ts";
import { type BillingClient, billingFromConfig } from "./billing.ts";

/** What every SmartYard domain function receives. */
export interface SmartyardDeps extends Deps {
  /** Absent when BILLING_URL is not set: no billing addresses, no balances, no payments. */
  billing?: BillingClient;
  /** Absent when the bank is not configured: pay/register answers 503. */
  bank?: SberbankClient;
  callbackKeys: CallbackKeys;
}

/** Builds the SmartYard dependencies once (createApp and main.ts each call it). */
export function smartyardDeps(deps: Deps): SmartyardDeps {
  return {
    ...deps,
    billing: billingFromConfig(deps.config),
    bank: sberbankFromConfig(deps.config),
    callbackKeys: callbackKeysFromConfig(deps.config),
  };
}

/** True when the apps can pay by card here (billing makes invoices, the bank takes the money). */
export function paymentsAvailable(sy: SmartyardDeps): boolean {
  return !!(sy.billing && sy.bank);
}
