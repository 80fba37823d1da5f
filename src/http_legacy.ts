/**
 * How the old clients' routes read their fields. Old clients put them anywhere: PHP-era trackers send a
 * query string or a form, the mobile apps JSON. Every route in routes/legacy/ reads through here, so all
 * of them follow one rule.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { BadRequestError } from "./errors.ts";
import { parseOrThrow } from "./http.ts";

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;
const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)$/i;

/**
 * The fields `keys` of an old client's request. **The rule: a field in the request body wins over the
 * same field in the query string**, as PHP's `$_REQUEST` (request_order "GP": POST over GET) did for the
 * old servers; a field absent from the body comes from the query; absent from both, it is undefined.
 * The body is read by its Content-Type and only for methods other than GET and HEAD: a JSON object's
 * members (`application/json`, `…+json`; any JSON value, arrays too), or the text fields of a
 * `application/x-www-form-urlencoded` or `multipart/form-data` form (files are ignored). A body that is
 * neither, or JSON that is not an object, has no fields. Query values are text; for a repeated key the
 * first one counts. Malformed JSON or form data is a 400.
 */
export async function readLegacyFields<K extends string>(
  c: Context,
  keys: readonly K[],
): Promise<Record<K, unknown>> {
  const body = await bodyFields(c);
  const fields = {} as Record<K, unknown>;
  for (const key of keys) {
    fields[key] = body && Object.hasOwn(body, key) && body[key] !== undefined ? body[key] : c.req.query(key);
  }
  return fields;
}

/** The fields of `schema` read by readLegacyFields, then validated: one 422 problem for bad fields. */
export async function parseLegacyFields<T extends z.ZodObject>(c: Context, schema: T): Promise<z.output<T>> {
  return parseOrThrow(schema, await readLegacyFields(c, Object.keys(schema.shape)), "(body)");
}

async function bodyFields(c: Context): Promise<Record<string, unknown> | undefined> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return undefined;
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim();
  if (JSON_TYPE.test(type)) {
    let value: unknown;
    try {
      value = await c.req.json();
    } catch {
      throw new BadRequestError("Malformed JSON in request body");
    }
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  }
  if (FORM_TYPE.test(type)) {
    let form: Record<string, unknown>;
    try {
      form = await c.req.parseBody();
    } catch (err) {
      throw new BadRequestError(`Malformed form data: ${(err as Error).message}`);
    }
    return Object.fromEntries(Object.entries(form).filter(([, v]) => typeof v === "string"));
  }
  return undefined;
}
