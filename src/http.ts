/** Shared HTTP plumbing for routes: the Hono env type, validation that throws problems, client IP. */
import { zValidator } from "@hono/zod-validator";
import type { Context, ValidationTargets } from "hono";
import { getConnInfo } from "hono/deno";
import type { z } from "zod";
import type { Principal } from "./auth/principal.ts";
import { ValidationError } from "./errors.ts";
import { tagValidator } from "./openapi/meta.ts";

/** The Hono environment every route module shares. */
export type AppEnv = { Variables: { requestId: string; principal: Principal } };

/** zod validation for a request part; failures become one 422 problem listing the fields. */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  const handler = zValidator(target, schema, (result) => {
    if (!result.success) throw validationError(result.error.issues, "(body)");
  });
  return tagValidator(handler, { target, schema }); // read back by the OpenAPI document (src/openapi/)
}

/** `value` parsed by `schema`, or one 422 problem listing the fields (`whole` names the value itself). */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, whole: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error.issues, whole);
  return parsed.data;
}

function validationError(issues: readonly z.core.$ZodIssue[], whole: string): ValidationError {
  return new ValidationError(issues.map((i) => ({ field: i.path.join(".") || whole, message: i.message })));
}

/** The caller's IP: the socket peer, or the proxy's header when TRUST_PROXY is on. */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const fly = c.req.header("fly-client-ip");
    if (fly) return fly.trim();
    const xff = c.req.header("x-forwarded-for");
    if (xff) return xff.split(",")[0].trim();
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // in-process requests (tests) have no socket
  }
}
