// State and helpers shared by the three demo portals of one `demoPortal()` instance.
// Everything lives in plain Maps and arrays owned by that instance: no timers, nothing global.
import type { Context } from "hono";
import { BadRequestError } from "../errors.ts";

/** How many entries each debug list keeps (oldest dropped first), so a long demo cannot grow memory forever. */
export const DEBUG_LIST_LIMIT = 200;

/** An SMS the registry "sent": what `GET /_debug` shows under `sms`. */
export interface SmsRecord {
  to: string;
  code: string;
}

/** A captcha the tax portal rendered: what `GET /_debug` shows under `captchas`. */
export interface CaptchaRecord {
  answer: string;
}

/** A BankID login started by the booking site; the debug view shows `{ token, approved }`. */
export interface BankIdTransaction {
  token: string;
  /** Secret mixed into the animated QR text so it cannot be predicted from the token alone. */
  secret: string;
  startedAt: number;
  approved: boolean;
  /** True once `/booking/complete/<token>` turned the approval into a portal session (one use). */
  completed: boolean;
}

/** Settings and in-memory state shared by the portals of one demo instance. */
export interface DemoContext {
  basePath: string;
  username: string;
  password: string;
  now: () => number;
  sms: SmsRecord[];
  captchas: CaptchaRecord[];
  bankId: Map<string, BankIdTransaction>;
}

/** Appends to a debug list, dropping the oldest entries past `DEBUG_LIST_LIMIT`. */
export function pushCapped<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > DEBUG_LIST_LIMIT) list.splice(0, list.length - DEBUG_LIST_LIMIT);
}

/** A string of `length` random decimal digits (SMS codes, booking numbers). */
export function randomDigits(length: number): string {
  const bytes = crypto.getRandomValues(new Uint32Array(length));
  return Array.from(bytes, (n) => String(n % 10)).join("");
}

/** A random lowercase hex string of `bytes` bytes (session ids, BankID tokens). */
export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** A text field of a parsed form body; files and missing fields read as "". */
export function formField(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  return typeof value === "string" ? value : "";
}

/** The posted form's fields; a body that is not a readable form (a multipart one without its boundary) is a 400. */
export async function readForm(c: Context): Promise<Record<string, unknown>> {
  try {
    return await c.req.parseBody();
  } catch (err) {
    throw new BadRequestError(`Malformed form data: ${(err as Error).message}`);
  }
}
