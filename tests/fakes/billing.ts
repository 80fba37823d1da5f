/**
 * A billing system speaking the contract the SmartYard seed called (AX-PR1 proxy/billing.py): `POST /<method>`
 * with a JSON body, answered with the mobile envelope `{code, name, message, data}`:
 * - `getaddresslist {phone}` → `[{houseId, address}]` (204-coded envelope when none);
 * - `getlist {phone}` → `[{address, houseId, flatId, accounts: [{clientId, contractName, contractPayName,
 *   blocked: "t"|"f", balance, bonus, payAdvice, services, lcab}]}]`, money in rubles as JSON numbers;
 * - `createinvoice {login, amount, phone}` → `data`: the new invoice's number as a string;
 * - `paysuccess {login, invoice, amount, orderId, phone}` → 200 (the payment notice gatehouse adds).
 * Phones arrive as JSON integers (E.164 digits). Every call is recorded.
 */
import { LocalServer } from "./local_server.ts";

/** A contract as this billing stores it. */
export interface FakeAccount {
  clientId: string;
  contractName: string;
  contractPayName?: string;
  blocked?: "t" | "f";
  balance: number;
  bonus?: number;
  payAdvice?: number;
  services?: string[];
  lcab?: string;
}

/** An address of a phone with its contracts. */
export interface FakePlace {
  address: string;
  houseId?: number | string;
  flatId?: string;
  accounts: FakeAccount[];
}

/** One request billing received. */
export interface BillingCall {
  method: string;
  body: Record<string, unknown>;
}

const envelope = (data: unknown, code = 200) =>
  Response.json({ code, name: code === 200 ? "OK" : "No Content", message: "", data });

/** The fake billing; `url` ends with `/` as BILLING_URL must. */
export class FakeBilling extends LocalServer {
  readonly calls: BillingCall[] = [];
  /** Houses per phone digits (getaddresslist). */
  readonly addresses = new Map<string, { houseId: number | string; address: string }[]>();
  /** Places per phone digits (getlist). */
  readonly places = new Map<string, FakePlace[]>();
  /** Invoices made by createinvoice. */
  readonly invoices: { number: string; login: string; amount: string; phone: number }[] = [];
  /** Payment notices received. */
  readonly payments: Record<string, unknown>[] = [];
  /** When set, createinvoice answers this number (to test a reused number). */
  nextInvoiceNumber?: string;
  /** When set, paysuccess fails with HTTP 500 this many more times. */
  failPaySuccess = 0;
  #seq = 100_000;

  constructor() {
    super((req) => this.#handle(req));
  }

  /** BILLING_URL for gatehouse. */
  get billingUrl(): string {
    return `${this.url}/billing/`;
  }

  /** The calls of one method. */
  callsOf(method: string): BillingCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST" || !path.startsWith("/billing/")) {
      return new Response("not found", { status: 404 });
    }
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      return envelope(null, 422);
    }
    const method = path.slice("/billing/".length);
    this.calls.push({ method, body });
    const phone = String(body.phone);
    switch (method) {
      case "getaddresslist": {
        const list = this.addresses.get(phone) ?? [];
        return list.length ? envelope(list) : envelope(null, 204);
      }
      case "getlist": {
        const list = this.places.get(phone) ?? [];
        return list.length ? envelope(list) : envelope(null, 204);
      }
      case "createinvoice": {
        const number = this.nextInvoiceNumber ?? String(++this.#seq);
        this.nextInvoiceNumber = undefined;
        this.invoices.push({
          number,
          login: String(body.login),
          amount: String(body.amount),
          phone: Number(body.phone),
        });
        return envelope(number);
      }
      case "paysuccess":
        if (this.failPaySuccess > 0) {
          this.failPaySuccess--;
          return new Response("billing hiccup (test)", { status: 500 });
        }
        this.payments.push(body);
        return envelope(null);
      default:
        return Response.json({ code: 404, name: "Not Found", message: `no method ${method}` }, {
          status: 404,
        });
    }
  }
}
