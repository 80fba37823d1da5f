/** SmartYard failures the apps show to people: an HTTP status, a detail for logs, and the alert's Russian text. */
import { AppError } from "../errors.ts";

/** An expected failure whose `userMessage` the apps display (iOS shows the envelope's `message`). */
export class AppMessageError extends AppError {
  override name = "AppMessageError";
  constructor(
    status: number,
    title: string,
    detail: string,
    readonly userMessage: string,
    headers: Record<string, string> = {},
  ) {
    super(status, title, detail, {}, headers);
  }
}

/** Which outside system failed. */
export type Upstream = "billing" | "bank" | "door panel";

const UPSTREAM_TEXT: Record<Upstream, string> = {
  billing: "Биллинг временно недоступен, попробуйте позже",
  bank: "Платёжный шлюз временно недоступен, попробуйте позже",
  "door panel": "Домофон не отвечает, попробуйте ещё раз",
};

/** 502 + Retry-After: billing, the bank or a door panel is down, slow or answered nonsense. */
export class UpstreamError extends AppMessageError {
  override name = "UpstreamError";
  constructor(readonly upstream: Upstream, reason: string, retryAfterS: number) {
    super(502, "Bad Gateway", `The ${upstream} ${reason}`, UPSTREAM_TEXT[upstream], {
      "retry-after": String(retryAfterS),
    });
  }
}

/** 404 with a text for the app. */
export function notFound(detail: string, userMessage = "Не найдено"): AppMessageError {
  return new AppMessageError(404, "Not Found", detail, userMessage);
}

/** 409 with a text for the app. */
export function conflict(detail: string, userMessage: string): AppMessageError {
  return new AppMessageError(409, "Conflict", detail, userMessage);
}

/** 503: a part of the SmartYard setup is not configured (billing, bank). */
export function notConfigured(what: string): AppMessageError {
  return new AppMessageError(503, "Service Unavailable", `${what} is not configured`, "Сервис не настроен");
}

/** Why a fetch to an outside system failed, in words for logs (never the URL: it may hold secrets). */
export function fetchFailure(err: unknown): string {
  if (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return "timed out";
  }
  return "could not be reached";
}
