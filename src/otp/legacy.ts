/** Phone login as the old mobile apps do it (POST /api/otpverify): they may send the whole SMS text. */
import type { TokenPair } from "../auth/sessions.ts";
import type { Deps } from "../deps.ts";
import { verifyCode } from "./service.ts";

/** The code in an app's `sms_message`: the SMS text's first run of 4–10 digits, else the text as sent. */
export function codeInSmsMessage(smsMessage: string): string {
  return smsMessage.match(/\d{4,10}/)?.[0] ?? smsMessage;
}

/** Verifies the code an old app read off the SMS (`sms_message`: the code or the whole text). */
export function verifySmsMessage(
  deps: Deps,
  input: { phone: string; smsMessage: string },
): Promise<TokenPair> {
  return verifyCode(deps, { phone: input.phone, code: codeInSmsMessage(input.smsMessage) });
}
