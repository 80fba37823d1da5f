/**
 * A Sberbank acquiring gateway speaking the documented REST protocol (securepayments.sberbank.ru/wiki,
 * voronkovich/sberbank-acquiring-client): form-encoded `register.do` and `getOrderStatusExtended.do` under
 * `/payment/rest/`, `{errorCode, errorMessage}` on failure, and callbacks to the merchant carrying `mdOrder,
 * orderNumber, operation, status, checksum`, the checksum being HMAC-SHA256 (uppercase hex) of the sorted
 * `name;value;` string, or an RSA-SHA512 signature with the bank's key (skodnik/sberbank-api).
 */
import { createHmac, createSign } from "node:crypto";
import { LocalServer } from "./local_server.ts";

/** An order as the gateway keeps it. */
export interface FakeOrder {
  orderId: string;
  orderNumber: string;
  amount: number;
  returnUrl: string;
  callbackUrl?: string;
  /** 0 registered, 2 deposited, 6 declined… (getOrderStatusExtended's orderStatus). */
  orderStatus: number;
}

/** The test merchant's credentials. */
export const MERCHANT = { userName: "gatehouse-api", password: "merchant-pass-1" };

/** The fake gateway. `callbackSecret` signs HMAC callbacks; with `privateKey` (PEM) callbacks are RSA-signed. */
export class FakeSberbank extends LocalServer {
  readonly orders = new Map<string, FakeOrder>();
  readonly requests: { method: string; params: Record<string, string> }[] = [];
  callbackSecret = "callback-secret-1";
  privateKey?: string;

  constructor() {
    super((req) => this.#handle(req));
  }

  /** The requests of one method (credentials included, as the bank sees them). */
  requestsOf(method: string) {
    return this.requests.filter((r) => r.method === method);
  }

  /** The customer pays on the payment page: the order becomes deposited. */
  pay(orderId: string): FakeOrder {
    const order = this.#order(orderId);
    order.orderStatus = 2;
    return order;
  }

  /** The callback the gateway sends for an order, signed as configured; `extra` adds parameters before signing. */
  callbackParams(
    orderId: string,
    options: { operation?: string; status?: "0" | "1"; extra?: Record<string, string> } = {},
  ): Record<string, string> {
    const order = this.#order(orderId);
    const params: Record<string, string> = {
      mdOrder: order.orderId,
      orderNumber: order.orderNumber,
      operation: options.operation ?? "deposited",
      status: options.status ?? "1",
      ...options.extra,
    };
    const text = Object.keys(params).sort().map((k) => `${k};${params[k]};`).join("");
    if (this.privateKey) {
      params.checksum = createSign("RSA-SHA512").update(text).sign(this.privateKey, "hex").toUpperCase();
      params.sign_alias = "SHA-512 with RSA";
    } else {
      params.checksum = createHmac("sha256", this.callbackSecret).update(text).digest("hex").toUpperCase();
    }
    return params;
  }

  /** Delivers a callback the way the gateway does: an HTTP GET to the merchant's URL with the parameters. */
  async deliverCallback(url: string, params: Record<string, string>): Promise<Response> {
    const u = new URL(url);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return await fetch(u);
  }

  #order(orderId: string): FakeOrder {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`fake bank: no order ${orderId}`);
    return order;
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      for (const [k, v] of new URLSearchParams(await req.text())) params[k] = v;
    }
    const method = url.pathname.replace(/^\/payment\/rest\//, "");
    this.requests.push({ method, params });
    const error = (code: number, message: string) =>
      Response.json({ errorCode: String(code), errorMessage: message });
    if (params.userName !== MERCHANT.userName || params.password !== MERCHANT.password) {
      return error(5, "Доступ запрещён");
    }
    if (method === "register.do") {
      const amount = Number(params.amount);
      if (!params.orderNumber || params.orderNumber.length > 32) return error(1, "Неверный номер заказа");
      if (!Number.isSafeInteger(amount) || amount <= 0 || String(amount) !== params.amount) {
        return error(4, "Сумма заказа не может быть меньше нуля");
      }
      if (!params.returnUrl) return error(4, "URL возврата не может быть пуст");
      if ([...this.orders.values()].some((o) => o.orderNumber === params.orderNumber)) {
        return error(1, "Заказ с таким номером уже обработан");
      }
      const orderId = crypto.randomUUID();
      this.orders.set(orderId, {
        orderId,
        orderNumber: params.orderNumber,
        amount,
        returnUrl: params.returnUrl,
        callbackUrl: params.dynamicCallbackUrl,
        orderStatus: 0,
      });
      return Response.json({
        orderId,
        formUrl: `${this.url}/payment/merchants/test/payment_ru.html?mdOrder=${orderId}`,
      });
    }
    if (method === "getOrderStatusExtended.do") {
      const order = params.orderId
        ? this.orders.get(params.orderId)
        : [...this.orders.values()].find((o) => o.orderNumber === params.orderNumber);
      if (!order) return error(6, "Заказ не найден");
      return Response.json({
        errorCode: "0",
        errorMessage: "Успешно",
        orderNumber: order.orderNumber,
        orderStatus: order.orderStatus,
        actionCode: order.orderStatus === 2 ? 0 : -100,
        actionCodeDescription: order.orderStatus === 2 ? "" : "Нет попыток оплаты",
        amount: order.amount,
        currency: "643",
        date: 1767225600000,
        attributes: [{ name: "mdOrder", value: order.orderId }],
      });
    }
    return new Response("Not Found", { status: 404 });
  }
}
