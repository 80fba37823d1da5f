/**
 * How the old tracker middleware's clients name a user. Their `user` field is either the gatehouse
 * user id (a UUID) or the user's phone number, read like OTP login reads it (E.164, or national form in
 * DEFAULT_REGION). A user is only found, never created: they must have logged in once. Anything that is
 * neither a UUID nor a phone number is a 422; a well-formed reference to no one is a 404.
 */
import { eq } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import { parsePhone } from "../otp/service.ts";
import { UUID } from "./registry.ts";

/** The gatehouse user id a legacy `user` field names. */
export async function resolveLegacyUser(deps: Pick<Deps, "db" | "config">, user: string): Promise<string> {
  const ref = user.trim();
  const where = UUID.test(ref) ? eq(users.id, ref) : eq(users.phone, parsePhone(deps, ref, "user"));
  const [row] = await deps.db.select({ id: users.id }).from(users).where(where);
  if (!row) throw new NotFoundError("No such user: they must log in once before claiming a device");
  return row.id;
}
