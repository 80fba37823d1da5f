import { HTTPException } from "hono/http-exception";

/** One field-level validation failure, as listed in a 422 problem. */
export interface FieldError {
  field: string;
  message: string;
}

/** Base of every expected failure: carries an HTTP status and RFC 9457 problem members. */
export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly status: number,
    readonly title: string,
    detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

/** 400: the request could not be read (malformed JSON, bad encoding). */
export class BadRequestError extends AppError {
  constructor(detail = "The request could not be read", extra?: Record<string, unknown>) {
    super(400, "Bad Request", detail, extra);
  }
}

/** 401: missing or invalid credentials. */
export class UnauthorizedError extends AppError {
  constructor(detail = "Authentication is required", extra?: Record<string, unknown>) {
    super(401, "Unauthorized", detail, extra, { "www-authenticate": 'Bearer realm="gatehouse"' });
  }
}

/** 403: authenticated but not allowed. */
export class ForbiddenError extends AppError {
  constructor(detail = "You are not allowed to do this") {
    super(403, "Forbidden", detail);
  }
}

/** 404: the resource does not exist (or is not visible to the caller). */
export class NotFoundError extends AppError {
  constructor(detail = "Not found") {
    super(404, "Not Found", detail);
  }
}

/** 408: the request (its body) did not arrive in time. */
export class RequestTimeoutError extends AppError {
  constructor(timeoutMs: number) {
    super(408, "Request Timeout", `The request body did not arrive within ${timeoutMs} ms`);
  }
}

/** 409: the request conflicts with the current state. */
export class ConflictError extends AppError {
  constructor(detail: string, extra?: Record<string, unknown>) {
    super(409, "Conflict", detail, extra);
  }
}

/** 413: the body is larger than allowed. */
export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, "Payload Too Large", `The request body is larger than ${limit} bytes`, { limit });
  }
}

/** 422: the request was read but its values are wrong. */
export class ValidationError extends AppError {
  constructor(readonly errors: FieldError[], detail = "The request has invalid fields") {
    super(422, "Unprocessable Content", detail, { errors });
  }
}

/** 429: a rate limit was hit; `retryAfterS` goes to the Retry-After header. */
export class TooManyRequestsError extends AppError {
  constructor(detail: string, retryAfterS: number) {
    const s = Math.max(1, Math.ceil(retryAfterS));
    super(429, "Too Many Requests", detail, { retry_after: s }, { "retry-after": String(s) });
  }
}

/** 502: an upstream service (SMS gateway, Traccar) failed. */
export class BadGatewayError extends AppError {
  constructor(detail: string, retryAfterS?: number) {
    super(502, "Bad Gateway", detail, {}, retryAfterS ? { "retry-after": String(retryAfterS) } : {});
  }
}

/** 503: a dependency is not configured or not available. */
export class ServiceUnavailableError extends AppError {
  constructor(detail: string, retryAfterS?: number) {
    super(503, "Service Unavailable", detail, {}, retryAfterS ? { "retry-after": String(retryAfterS) } : {});
  }
}

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [k: string]: unknown;
}

/** Maps any thrown value to a status, a problem document and extra headers; the one error mapping. */
export function toProblem(
  err: unknown,
  instance?: string,
): { problem: Problem; headers: Record<string, string> } {
  if (err instanceof AppError) {
    return {
      problem: {
        type: "about:blank",
        title: err.title,
        status: err.status,
        detail: err.message,
        instance,
        ...err.extra,
      },
      headers: err.headers,
    };
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const title = status === 413 ? "Payload Too Large" : status === 400 ? "Bad Request" : "Error";
    return {
      problem: { type: "about:blank", title, status, detail: err.message || title, instance },
      headers: {},
    };
  }
  const fromDb = databaseError(err);
  if (fromDb) return toProblem(fromDb, instance);
  return {
    problem: {
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      detail: "An unexpected error occurred",
      instance,
    },
    headers: {},
  };
}

/** Builds an `application/problem+json` response. */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** Seconds a client is told to wait (Retry-After) while the database is unreachable. */
export const DATABASE_RETRY_AFTER_S = 2;

// Connection failures: Postgres classes 08 (connection exception), 57P01-57P03 (shutdown, cannot connect
// now), 53300 (too many connections), 57014 (statement timeout); postgres.js's own codes; socket errors.
const UNAVAILABLE_CODES = new Set([
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "57014",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
]);
const UNAVAILABLE_NAMES = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "BrokenPipe",
]);

/** The Postgres (or socket) error code of `err` or of an error it wraps (drizzle wraps the driver's). */
export function databaseCode(err: unknown): { code?: string; name?: string; detail?: string } | undefined {
  let e = err;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, name, detail } = e as { code?: unknown; name?: unknown; detail?: unknown };
    if (typeof code === "string" && code) {
      return { code, name: String(name), detail: typeof detail === "string" ? detail : undefined };
    }
    if (typeof name === "string" && UNAVAILABLE_NAMES.has(name)) return { name };
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A database failure as an expected error: unreachable → 503 with Retry-After, a reference to a row that
 * does not exist → 422, a duplicate → 409, a value Postgres cannot store or read → 422; other errors stay
 * unexpected (undefined). Values are never copied into the answer.
 */
export function databaseError(err: unknown): AppError | undefined {
  const found = databaseCode(err);
  if (!found) return undefined;
  const { code = "", name = "", detail = "" } = found;
  if (UNAVAILABLE_CODES.has(code) || code.startsWith("08") || UNAVAILABLE_NAMES.has(name)) {
    return new ServiceUnavailableError(
      "The database is not available; try again shortly",
      DATABASE_RETRY_AFTER_S,
    );
  }
  const column = detail.match(/^Key \(([\w, ]+)\)=/)?.[1] ?? "(body)";
  if (code === "23503") {
    return new ValidationError([{ field: column, message: "refers to a record that does not exist" }]);
  }
  if (code === "23505") return new ConflictError(`A record with this ${column} already exists`);
  // 22xxx data exceptions: invalid text for a type (a bad UUID), a NUL byte, out-of-range numbers.
  if (code.startsWith("22")) {
    return new ValidationError([{ field: "(request)", message: "holds a value the database cannot store" }]);
  }
  return undefined;
}
