/** Phone numbers: parsed with libphonenumber-js and kept in E.164. */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";

/** Returns the E.164 form of `input` (national numbers read in `region`), or null when it is not a valid number. */
export function toE164(input: string, region?: string): string | null {
  const phone = parsePhoneNumberFromString(input.trim(), region as CountryCode | undefined);
  if (!phone || !phone.isValid()) return null;
  return phone.number;
}
