/**
 * Sberbank acquiring (securepayments.sberbank.ru/wiki, voronkovich/sberbank-acquiring-client): `register.do`,
 * `getOrderStatusExtended.do`, and the check of the bank's callback. Credentials go only into request
 * bodies, never into logs or errors.
 */
import { createHmac, createPublicKey, createVerify, type KeyObject } from "node:crypto";
import { constantTimeEqual } from "../crypto.ts";
import type { Config } from "../config.ts";
import { fetchFailure, UpstreamError } from "./errors.ts";

/** `orderStatus` of getOrderStatusExtended.do (voronkovich OrderStatus.php). */
export const ORDER_STATUS = {
  registered: 0,
  held: 1,
  deposited: 2,
  reversed: 3,
  refunded: 4,
  acsInProgress: 5,
  declined: 6,
} as const;

/** What the bank says about an order. */
export interface OrderState {
  orderStatus: number;
  /** Kopecks, when the bank says. */
  amount: number | null;
  orderNumber: string | null;
}

const RETRY_AFTER_S = 30;

/** Where the bank is and how to talk to it. */
export interface SberbankOptions {
  url: string;
  userName?: string;
  password?: string;
  token?: string;
  timeoutMs: number;
  returnUrl: string;
  failUrl?: string;
  callbackUrl?: string;
  currency?: string;
  language: string;
}

/** Calls the bank's REST API with the merchant's credentials and one timeout. */
export class SberbankClient {
  readonly #opts: SberbankOptions;

  constructor(opts: SberbankOptions) {
    this.#opts = opts;
  }

  /** Registers order `orderNumber` for `amount` kopecks; answers the bank's order id and payment page. */
  async register(
    input: { orderNumber: string; amount: number; description: string },
  ): Promise<{ orderId: string; formUrl: string }> {
    const o = this.#opts;
    const params: Record<string, string> = {
      orderNumber: input.orderNumber,
      amount: String(input.amount),
      returnUrl: o.returnUrl,
      language: o.language,
      description: input.description.slice(0, 598),
    };
    if (o.failUrl) params.failUrl = o.failUrl;
    if (o.currency) params.currency = o.currency;
    if (o.callbackUrl) params.dynamicCallbackUrl = o.callbackUrl;
    const reply = await this.#call("register.do", params);
    if (typeof reply.orderId !== "string" || typeof reply.formUrl !== "string") {
      throw new UpstreamError("bank", "sent no orderId/formUrl (register.do)", RETRY_AFTER_S);
    }
    return { orderId: reply.orderId, formUrl: reply.formUrl };
  }

  /** The state of the bank's order `orderId`. */
  async orderStatus(orderId: string): Promise<OrderState> {
    const reply = await this.#call("getOrderStatusExtended.do", { orderId, language: this.#opts.language });
    const status = Number(reply.orderStatus);
    if (!Number.isInteger(status)) {
      throw new UpstreamError("bank", "sent no orderStatus (getOrderStatusExtended.do)", RETRY_AFTER_S);
    }
    const amount = Number(reply.amount);
    return {
      orderStatus: status,
      amount: Number.isSafeInteger(amount) ? amount : null,
      orderNumber: typeof reply.orderNumber === "string" ? reply.orderNumber : null,
    };
  }

  async #call(method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const o = this.#opts;
    const form = new URLSearchParams(params);
    if (o.token) form.set("token", o.token);
    else {
      form.set("userName", o.userName ?? "");
      form.set("password", o.password ?? "");
    }
    let res: Response;
    let raw: string;
    try {
      res = await fetch(`${o.url}/payment/rest/${method}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form,
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      raw = await res.text();
    } catch (err) {
      throw new UpstreamError("bank", `${fetchFailure(err)} (${method})`, RETRY_AFTER_S);
    }
    if (!res.ok) throw new UpstreamError("bank", `answered HTTP ${res.status} (${method})`, RETRY_AFTER_S);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new UpstreamError("bank", `sent an answer that is not a JSON object (${method})`, RETRY_AFTER_S);
    }
    const reply = json as Record<string, unknown>;
    const code = reply.errorCode === undefined ? 0 : Number(reply.errorCode);
    if (code !== 0) {
      const msg = typeof reply.errorMessage === "string" ? `: ${reply.errorMessage.slice(0, 200)}` : "";
      throw new UpstreamError(
        "bank",
        `refused ${method} with errorCode ${reply.errorCode}${msg}`,
        RETRY_AFTER_S,
      );
    }
    return reply;
  }
}

/** The client for the SBERBANK_* settings, or undefined when no credentials are configured. */
export function sberbankFromConfig(config: Config): SberbankClient | undefined {
  const hasCredentials = (config.SBERBANK_USERNAME && config.SBERBANK_PASSWORD) || config.SBERBANK_TOKEN;
  if (!hasCredentials || !config.SBERBANK_RETURN_URL) return undefined;
  return new SberbankClient({
    url: config.SBERBANK_URL,
    userName: config.SBERBANK_USERNAME,
    password: config.SBERBANK_PASSWORD,
    token: config.SBERBANK_TOKEN,
    timeoutMs: config.SBERBANK_TIMEOUT_MS,
    returnUrl: config.SBERBANK_RETURN_URL,
    failUrl: config.SBERBANK_FAIL_URL,
    callbackUrl: config.SBERBANK_CALLBACK_URL,
    currency: config.SBERBANK_CURRENCY,
    language: config.SBERBANK_LANGUAGE,
  });
}

/** The checked text of a callback: every parameter but `checksum` and `sign_alias`, by name, as `name;value;`. */
export function callbackCheckString(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== "checksum" && k !== "sign_alias")
    .sort()
    .map((k) => `${k};${params[k]};`)
    .join("");
}

/** How callbacks are checked: a shared HMAC key and/or the bank's certificate. */
export interface CallbackKeys {
  secret?: string;
  publicKey?: KeyObject;
}

/** The callback keys of the configuration (the certificate parsed once). */
export function callbackKeysFromConfig(config: Config): CallbackKeys {
  let publicKey: KeyObject | undefined;
  if (config.SBERBANK_CALLBACK_CERT) {
    try {
      publicKey = createPublicKey(config.SBERBANK_CALLBACK_CERT);
    } catch {
      throw new Error("Cannot read SBERBANK_CALLBACK_CERT: not a PEM certificate or public key");
    }
  }
  return { secret: config.SBERBANK_CALLBACK_SECRET, publicKey };
}

/**
 * True when the callback's `checksum` is genuine: RSA-SHA512 with the bank's certificate when one is
 * configured, else HMAC-SHA256 with the shared key (hex, any case). With no key configured nothing passes.
 */
export function verifyCallback(params: Record<string, string>, keys: CallbackKeys): boolean {
  const checksum = params.checksum;
  if (!checksum || !/^[0-9a-fA-F]+$/.test(checksum)) return false;
  const text = callbackCheckString(params);
  if (keys.publicKey) {
    try {
      return createVerify("RSA-SHA512").update(text).verify(keys.publicKey, checksum.toLowerCase(), "hex");
    } catch {
      return false;
    }
  }
  if (keys.secret) {
    const expected = createHmac("sha256", keys.secret).update(text).digest("hex");
    return constantTimeEqual(expected, checksum.toLowerCase());
  }
  return false;
}
