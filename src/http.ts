/** Shared HTTP plumbing for routes: the Hono env type, validation that throws problems, client IP. */
import { zValidator } from "@hono/zod-validator";
import type { Context, ValidationTargets } from "hono";
import { getConnInfo } from "hono/deno";
import type { z } from "zod";
import type { Principal } from "./auth/middleware.ts";
import { ValidationError } from "./errors.ts";

/** The Hono environment every route module shares. */
export type AppEnv = { Variables: { requestId: string; principal: Principal } };

/** zod validation for a request part; failures become one 422 problem listing the fields. */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      throw new ValidationError(
        result.error.issues.map((i) => ({ field: i.path.join(".") || "(body)", message: i.message })),
      );
    }
  });
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
