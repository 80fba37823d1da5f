/**
 * What the OpenAPI document learns from the middleware itself: `validate()` and `requireAuth()` tag the
 * functions they return, and the generator finds them again in `app.routes` (as hono-openapi does).
 */
import type { z } from "zod";

/** A request part a route validates, and the zod schema it validates with. */
export interface ValidatorMeta {
  target: string;
  schema: z.ZodType;
}

/** Who may call a route: the principal kinds `requireAuth` lets through. */
export interface AuthMeta {
  allow: readonly string[];
}

const validators = new WeakMap<object, ValidatorMeta>();
const auths = new WeakMap<object, AuthMeta>();

/** Marks `handler` as validating `target` with `schema`; returns the handler. */
export function tagValidator<T extends object>(handler: T, meta: ValidatorMeta): T {
  validators.set(handler, meta);
  return handler;
}

/** Marks `handler` as the auth check letting `allow` through; returns the handler. */
export function tagAuth<T extends object>(handler: T, meta: AuthMeta): T {
  auths.set(handler, meta);
  return handler;
}

/** The validation a middleware does, if it is a tagged validator. */
export function validatorOf(handler: object): ValidatorMeta | undefined {
  return validators.get(handler);
}

/** The auth a middleware checks, if it is a tagged `requireAuth`. */
export function authOf(handler: object): AuthMeta | undefined {
  return auths.get(handler);
}
