/**
 * The apps' HTTP conventions (REFERENCE_SMARTYARD §1.1): POST with a JSON body (or none), answers in the
 * envelope `{code, name, message, data}`, 204 with an empty body for "no data", 401 for an unknown token
 * (the apps log out on it), 422 for bad input. Errors keep the envelope; `data` carries the details.
 */
import type { Context, ErrorHandler, MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { Deps } from "../../src/deps.ts";
import { AppError, toProblem, UnauthorizedError, ValidationError } from "../../src/errors.ts";
import { type AppEnv, findString } from "../../src/http.ts";
import { type AppUser, authenticateAppToken } from "../../src/smartyard/app_tokens.ts";
import { AppMessageError } from "../../src/smartyard/errors.ts";

/** The Hono environment of the apps' routes: the caller, when authenticated. */
export type SyEnv = { Variables: AppEnv["Variables"] & { appUser: AppUser | null } };

/** What the apps display for each status when the failure has no text of its own. */
const USER_TEXT: Record<number, string> = {
  400: "Некорректный запрос",
  401: "Не авторизован",
  403: "Доступ запрещён",
  404: "Не найдено",
  409: "Конфликт, попробуйте ещё раз",
  413: "Слишком большой запрос",
  422: "Некорректные данные",
  429: "Слишком много запросов, попробуйте позже",
  500: "Внутренняя ошибка сервера",
  502: "Сервис временно недоступен, попробуйте позже",
  503: "Сервис временно недоступен",
};

/** 200 with `data` in the envelope; 204 and no body when there is nothing (undefined or an empty list). */
export function ok(c: Context, data?: unknown): Response {
  if (data === undefined || (Array.isArray(data) && data.length === 0)) return c.body(null, 204);
  return c.json({ code: 200, name: "OK", message: "Хорошо", data }, 200);
}

/** The apps' error envelope for any thrown value; the status stays the HTTP status (and `code`). */
export function envelopeErrors(deps: Pick<Deps, "log">): ErrorHandler<SyEnv> {
  return (err, c) => {
    const { problem, headers } = toProblem(err, c.req.path);
    const { type: _t, title, status, detail, instance: _i, ...extra } = problem;
    if (!(err instanceof AppError)) {
      deps.log.error("unhandled error", { path: c.req.path, request_id: c.get("requestId"), error: err });
    }
    const message = err instanceof AppMessageError ? err.userMessage : USER_TEXT[status] ?? title;
    return new Response(JSON.stringify({ code: status, name: title, message, data: { detail, ...extra } }), {
      status,
      headers: { "content-type": "application/json; charset=utf-8", ...headers },
    });
  };
}

/** C0 control characters and DEL: no field of the apps' API (names, phones, tokens, ids) holds one. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The request body read with `schema`: no body counts as `{}`; anything but a JSON object, or a field holding a
 * control character (a NUL no column can store, or an escape a name or push token never has), is a 422.
 */
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ValidationError([{ field: "(body)", message: "is not valid JSON" }]);
    }
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ValidationError([{ field: "(body)", message: "must be a JSON object" }]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((i) => ({ field: i.path.join(".") || "(body)", message: i.message })),
    );
  }
  const control = findString(parsed.data, (s) => CONTROL.test(s));
  if (control !== undefined) {
    throw new ValidationError([{
      field: control || "(body)",
      message: "must not contain control characters",
    }]);
  }
  return parsed.data;
}

/**
 * Authenticates `Authorization: Bearer <token>` against the apps' tokens. Unknown or revoked → 401. With
 * `optional`, a request without the header passes as anonymous (iOS sends none on pay/register).
 */
export function appAuth(
  deps: Pick<Deps, "db">,
  options: { optional?: boolean } = {},
): MiddlewareHandler<SyEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header && options.optional) {
      c.set("appUser", null);
      return await next();
    }
    const token = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const user = token ? await authenticateAppToken(deps, token) : null;
    if (!user) throw new UnauthorizedError("A valid Authorization: Bearer token is required");
    c.set("appUser", user);
    await next();
  };
}

/** The authenticated caller (after appAuth without `optional`). */
export function caller(c: Context<SyEnv>): AppUser {
  const user = c.get("appUser");
  if (!user) throw new UnauthorizedError("A valid Authorization: Bearer token is required");
  return user;
}
