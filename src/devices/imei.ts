/** IMEIs: 15 digits whose last digit is the Luhn check digit of the first 14 (3GPP TS 23.003 §6.2.1). */

/** True when `imei` is 15 ASCII digits with a valid Luhn check digit. */
export function isValidImei(imei: string): boolean {
  if (!/^\d{15}$/.test(imei)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let digit = imei.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit that completes a 14-digit IMEI body (handy for tests and tools). */
export function imeiCheckDigit(body: string): string {
  if (!/^\d{14}$/.test(body)) throw new RangeError(`Cannot compute a check digit: ${body} is not 14 digits`);
  for (let d = 0; d <= 9; d++) if (isValidImei(`${body}${d}`)) return String(d);
  throw new Error("unreachable: one of ten digits always completes a Luhn sum");
}
