/**
 * The billing system's HTTP API as the seed called it (AX-PR1 proxy/billing.py): `POST <BILLING_URL><method>`
 * with a JSON body, answered with the mobile envelope `{code, name, message, data}`. Unlike the seed, answers
 * are checked (they reach type-strict apps) and every call has a timeout; failures are UpstreamError (502).
 */
import { z } from "zod";
import type { Config } from "../config.ts";
import { fetchFailure, UpstreamError } from "./errors.ts";
import { rublesToKopecks } from "./money.ts";

/** A house billing links to a phone (getaddresslist). */
export interface BillingAddress {
  houseId: number;
  address: string;
}

/** One contract (account) as billing describes it; money in kopecks. */
export interface BillingAccount {
  clientId: string;
  contractName: string;
  contractPayName: string;
  blocked: boolean;
  balance: number;
  bonus: number;
  payAdvice: number | null;
  services: string[];
  lcab: string | null;
  lcabPay: string | null;
  clientName: string | null;
}

/** An address with its contracts (getlist, the LanTa getPaymentsList shape). */
export interface BillingPlace {
  address: string;
  houseId: number | null;
  flatId: string | null;
  accounts: BillingAccount[];
}

/** Seconds the apps are told to wait after a billing failure. */
const RETRY_AFTER_S = 30;

const houseId = z.union([
  z.number().int().positive().max(2 ** 31 - 1),
  z.string().regex(/^\d{1,9}$/).transform(Number),
]).refine((n) => n > 0, "must be a positive house number");
const text = (max: number) => z.union([z.string().max(max), z.number()]).transform(String);
const money = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const k = rublesToKopecks(v);
  if (k === null) {
    ctx.addIssue({ code: "custom", message: "must be a decimal number of rubles" });
    return z.NEVER;
  }
  return k;
});
const optionalText = z.string().max(2000).nullish().transform((v) => v ?? null);

const addressSchema = z.object({ houseId, address: z.string().min(1).max(500) });
const accountSchema = z.object({
  clientId: text(64).pipe(z.string().min(1)),
  contractName: text(200),
  contractPayName: text(200).optional(),
  blocked: z.union([z.enum(["t", "f"]), z.boolean()]).optional().transform((v) => v === true || v === "t"),
  balance: money,
  bonus: money.optional().transform((v) => v ?? 0),
  payAdvice: money.nullish().transform((v) => v ?? null),
  services: z.array(z.string().max(64)).max(100).optional().transform((v) => v ?? []),
  lcab: optionalText,
  lcabPay: optionalText,
  clientName: optionalText,
}).transform((a): BillingAccount => ({ ...a, contractPayName: a.contractPayName ?? a.contractName }));
const placeSchema = z.object({
  address: z.string().min(1).max(500),
  houseId: houseId.nullish().transform((v) => v ?? null),
  flatId: text(64).nullish().transform((v) => v ?? null),
  accounts: z.array(accountSchema).max(1000).optional().transform((v) => v ?? []),
});
/** Sberbank's orderNumber: at most 32 characters, unique per merchant. */
const invoiceNumber = text(32).pipe(z.string().regex(/^[\w-]{1,32}$/, "must be 1 to 32 of A-Z a-z 0-9 _ -"));

/** Calls billing with one timeout; the only module that speaks to it. */
export class BillingClient {
  readonly #url: string;
  readonly #token?: string;
  readonly #timeoutMs: number;

  constructor(opts: { url: string; token?: string; timeoutMs: number }) {
    this.#url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** Houses billing links to `phone` (E.164). */
  async addresses(phone: string): Promise<BillingAddress[]> {
    return await this.#list("getaddresslist", { phone: phoneNumber(phone) }, addressSchema);
  }

  /** Addresses and contracts of `phone` with balances (the apps' payments list). */
  async places(phone: string): Promise<BillingPlace[]> {
    return await this.#list("getlist", { phone: phoneNumber(phone) }, placeSchema);
  }

  /** Asks billing for an invoice on contract `clientId`; answers its number. */
  async createInvoice(input: { clientId: string; amount: number; phone: string }): Promise<string> {
    const data = await this.#call("createinvoice", {
      login: input.clientId,
      amount: String(input.amount),
      phone: phoneNumber(input.phone),
    });
    const parsed = invoiceNumber.safeParse(data);
    if (!parsed.success) throw unexpected("createinvoice", parsed.error);
    return parsed.data;
  }

  /** Tells billing an invoice was paid; `invoice` makes a repeat harmless on billing's side. */
  async paySuccess(
    input: { clientId: string; invoice: string; amount: number; orderId: string; phone: string },
  ): Promise<void> {
    await this.#call("paysuccess", {
      login: input.clientId,
      invoice: input.invoice,
      amount: String(input.amount),
      orderId: input.orderId,
      phone: phoneNumber(input.phone),
    });
  }

  async #list<T extends z.ZodType>(method: string, body: unknown, item: T): Promise<z.output<T>[]> {
    const data = await this.#call(method, body);
    if (data === null || data === undefined || data === "") return [];
    const parsed = z.array(item).max(1000).safeParse(data);
    if (!parsed.success) throw unexpected(method, parsed.error);
    return parsed.data;
  }

  /** POSTs `body` to `<url><method>`; answers the envelope's `data` (undefined for 204 or no data). */
  async #call(method: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    let raw: string;
    try {
      res = await fetch(new URL(method, this.#url), {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      raw = await res.text();
    } catch (err) {
      throw new UpstreamError("billing", `${fetchFailure(err)} (${method})`, RETRY_AFTER_S);
    }
    if (!res.ok) throw new UpstreamError("billing", `answered HTTP ${res.status} (${method})`, RETRY_AFTER_S);
    if (res.status === 204 || raw.trim() === "") return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new UpstreamError("billing", `sent an answer that is not JSON (${method})`, RETRY_AFTER_S);
    }
    if (Array.isArray(json)) return json; // a billing that answers bare data
    if (typeof json !== "object" || json === null) {
      throw new UpstreamError("billing", `sent an answer that is not an envelope (${method})`, RETRY_AFTER_S);
    }
    const env = json as { code?: unknown; message?: unknown; data?: unknown };
    if (typeof env.code === "number" && env.code >= 400) {
      const why = typeof env.message === "string" ? `: ${env.message.slice(0, 200)}` : "";
      throw new UpstreamError("billing", `answered code ${env.code} (${method})${why}`, RETRY_AFTER_S);
    }
    if (env.code === 204) return undefined;
    return env.data;
  }
}

/** The client for BILLING_URL, or undefined when billing is not configured. */
export function billingFromConfig(config: Config): BillingClient | undefined {
  if (!config.BILLING_URL) return undefined;
  return new BillingClient({
    url: config.BILLING_URL,
    token: config.BILLING_TOKEN,
    timeoutMs: config.BILLING_TIMEOUT_MS,
  });
}

/** The seed sent phones as JSON integers: the E.164 digits without "+". */
function phoneNumber(e164: string): number {
  return Number(e164.replace(/^\+/, ""));
}

function unexpected(method: string, error: z.ZodError): UpstreamError {
  const first = error.issues[0];
  const where = first ? ` at data.${first.path.join(".")}: ${first.message}` : "";
  return new UpstreamError("billing", `sent an unexpected answer to ${method}${where}`, RETRY_AFTER_S);
}
