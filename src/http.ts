/** Shared HTTP plumbing for routes: the Hono env type, validation that throws problems, client IP. */
import { zValidator } from "@hono/zod-validator";
import type { Context, ValidationTargets } from "hono";
import { getConnInfo } from "hono/deno";
import type { z } from "zod";
import type { Principal } from "./auth/principal.ts";
import type { TrustProxy } from "./config.ts";
import { AppError, type FieldError, ValidationError } from "./errors.ts";
import { tagValidator } from "./openapi/meta.ts";

/** The Hono environment every route module shares. */
export type AppEnv = {
  /** `logPath`: what the request log shows instead of the path, when the path holds a credential. */
  Variables: { requestId: string; principal: Principal; logPath?: string };
};

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * zod validation for a request part; failures become one 422 problem listing the fields. A JSON part with
 * a body of another content type is a 415 (never silently read as `{}`), and text holding a NUL character
 * (which no database column can store) is a 422 naming the field.
 */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  const inner = zValidator(target, schema, (result) => {
    if (!result.success) throw validationError(result.error.issues, "(body)");
    const nul = findNul(result.data, "");
    if (nul) throw new ValidationError([nul]);
  });
  if (target !== "json") return tagValidator(inner, { target, schema }); // read back by src/openapi/
  const checked = (async (c, next) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim();
    const hasBody = c.req.raw.body !== null && c.req.header("content-length") !== "0";
    if (hasBody && !JSON_TYPE.test(type)) {
      throw new AppError(
        415,
        "Unsupported Media Type",
        `This route takes application/json, not ${type || "no type"}`,
      );
    }
    return await inner(c, next);
  }) as typeof inner;
  return tagValidator(checked, { target, schema });
}

/** `value` parsed by `schema`, or one 422 problem listing the fields (`whole` names the value itself). */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, whole: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error.issues, whole);
  const nul = findNul(parsed.data, whole);
  if (nul) throw new ValidationError([nul]);
  return parsed.data;
}

function validationError(issues: readonly z.core.$ZodIssue[], whole: string): ValidationError {
  return new ValidationError(issues.map((i) => ({ field: i.path.join(".") || whole, message: i.message })));
}

/** The first string in `value` that holds a NUL character, as a field error. */
function findNul(value: unknown, path: string): FieldError | undefined {
  const field = findString(value, (s) => s.includes("\u0000"), path);
  return field === undefined
    ? undefined
    : { field: field || "(body)", message: "must not contain NUL characters" };
}

/** The path ("a.b", or `path` itself) of the first string in `value` that `bad` holds true for. */
export function findString(value: unknown, bad: (s: string) => boolean, path = ""): string | undefined {
  if (typeof value === "string") return bad(value) ? path : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = findString(v, bad, path ? `${path}.${k}` : k);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The caller's IP: the socket peer, or what the configured proxy says (TRUST_PROXY). Only the entry the
 * trusted proxy appended counts: the right-most X-Forwarded-For hop (or the n-th from the right behind n
 * proxies), or `Fly-Client-IP` on Fly, which its edge overwrites; a client's own left-most entries never do.
 */
export function clientIp(c: Context, trust: TrustProxy): string {
  if (trust === "fly") {
    const fly = c.req.header("fly-client-ip")?.trim();
    if (fly) return fly;
  } else if (trust) {
    // repeated X-Forwarded-For headers arrive joined with ", ", in order
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((h) => h.trim());
    const hop = hops.length >= trust ? hops[hops.length - trust] : "";
    if (hop) return hop;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // in-process requests (tests) have no socket
  }
}
