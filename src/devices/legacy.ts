/**
 * How the old tracker middleware's clients name a user. Their `user` field is either the gatehouse
 * user id (a UUID) or the user's phone number, read like OTP login reads it (E.164, or national form in
 * DEFAULT_REGION). A user is only found, never created: they must have logged in once. Anything that is
 * neither a UUID nor a phone number is a 422; a well-formed reference to no one is a 404.
 */
import { eq } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import type { AppDeps, Deps } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import { parsePhone } from "../otp/service.ts";
import { checkDevice, claimDevice, type DeviceView, UUID } from "./registry.ts";

/** The gatehouse user id a legacy `user` field names. */
export async function resolveLegacyUser(deps: Pick<Deps, "db" | "config">, user: string): Promise<string> {
  const ref = user.trim();
  const where = UUID.test(ref) ? eq(users.id, ref) : eq(users.phone, parsePhone(deps, ref, "user"));
  const [row] = await deps.db.select({ id: users.id }).from(users).where(where);
  if (!row) throw new NotFoundError("No such user: they must log in once before claiming a device");
  return row.id;
}

/** `POST /api/device`: claims `imei` for the user a legacy `user` field names (`name` = the app's `dp`). */
export async function claimForLegacyUser(
  deps: Deps & Pick<AppDeps, "claimLocks">,
  input: { user: string; imei: string; name?: string },
): Promise<{ device: DeviceView; created: boolean }> {
  const userId = await resolveLegacyUser(deps, input.user);
  return await claimDevice(deps, { userId, imei: input.imei.trim(), name: input.name || undefined });
}

/** `POST /api/checkDeviceInfo`: whether `imei` can be claimed by the user a legacy `user` field names. */
export async function checkForLegacyUser(
  deps: Pick<Deps, "db" | "config">,
  input: { user: string; imei: string },
): Promise<{ imei: string; available: boolean; reason?: string }> {
  const userId = await resolveLegacyUser(deps, input.user);
  return await checkDevice(deps, { kind: "user", userId, sessionId: "" }, input.imei.trim());
}
