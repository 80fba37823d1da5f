/**
 * SMS login of the apps (user/requestCode, user/confirmCode) on the one OTP service: same limits, hashing
 * and SMS providers as the v1 routes, with this client's own code length (SMARTYARD_OTP_LENGTH).
 */
import { decodeJwt } from "jose";
import type { Deps } from "../deps.ts";
import { TooManyRequestsError, UnauthorizedError, ValidationError } from "../errors.ts";
import { parsePhone, requestCode, verifyCode } from "../otp/service.ts";
import { issueAppToken } from "./app_tokens.ts";
import { AppMessageError } from "./errors.ts";
import { profileNames } from "./profile.ts";

/** The apps' phone: 11 digits starting with 7 (current apps) or 8 (the LanTa app). */
export const APP_PHONE = /^[78]\d{10}$/;

/** "79161234567" or "89161234567" as E.164 ("+79161234567"), or a 422 naming `userPhone`. */
export function appPhoneToE164(deps: Pick<Deps, "config">, userPhone: string): string {
  if (!APP_PHONE.test(userPhone)) {
    throw new ValidationError([{ field: "userPhone", message: "must be 11 digits starting with 7 or 8" }]);
  }
  return parsePhone(deps, `+7${userPhone.slice(1)}`, "userPhone");
}

/** Sends a login code of SMARTYARD_OTP_LENGTH digits to the app's phone. */
export async function requestAppCode(deps: Deps, input: { userPhone: string; ip: string }): Promise<void> {
  const phone = appPhoneToE164(deps, input.userPhone);
  await requestCode(deps, { phone, ip: input.ip, codeLength: deps.config.SMARTYARD_OTP_LENGTH });
}

/** The answer of user/confirmCode: the app's bearer token and, once known, the user's name. */
export interface ConfirmedLogin {
  accessToken: string;
  names?: { name: string; patronymic: string };
}

/**
 * Checks the code; on success starts a gatehouse login session and gives the app an opaque token bound to it.
 * A wrong code is 403 (the apps show "wrong PIN"), no live code 404 (ask for a new one), as in the seed.
 */
export async function confirmAppCode(
  deps: Deps,
  input: { userPhone: string; smsCode: string },
): Promise<ConfirmedLogin> {
  const phone = appPhoneToE164(deps, input.userPhone);
  let sessionId: string;
  let userId: string;
  try {
    const pair = await verifyCode(deps, { phone, code: input.smsCode });
    // The session id travels in the access token the OTP service signed a moment ago.
    sessionId = String(decodeJwt(pair.access_token).sid);
    userId = pair.user.id;
  } catch (err) {
    // A burned code (429 on the v1 route) is, for the apps, a code that is no longer live: 404.
    if (!(err instanceof UnauthorizedError) && !(err instanceof TooManyRequestsError)) throw err;
    const left = Number(err.extra.attempts_left ?? 0);
    if (left > 0) {
      throw new AppMessageError(403, "Forbidden", err.message, "Пин-код введен неверно");
    }
    throw new AppMessageError(
      404,
      "Not Found",
      err.message,
      "Код устарел или не запрашивался, запросите новый",
    );
  }
  const accessToken = await issueAppToken(deps, { userId, sessionId });
  const names = await profileNames(deps, userId);
  return names ? { accessToken, names } : { accessToken };
}
