/** Money is integer kopecks everywhere; these are the only conversions, exact (no float arithmetic). */

const DECIMAL = /^(-?)(\d{1,13})(?:\.(\d+))?$/;

/**
 * An app amount in kopecks as the apps send it: 50000, "50000", "50000.0" (iOS Apple Pay path).
 * Returns null for anything that is not a whole positive number of kopecks.
 */
export function parseAppKopecks(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = /^(\d{1,13})(?:\.0+)?$/.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n : null;
}

/**
 * Rubles as billing writes them (123.45, "123.45", -10, "0") to kopecks, from the decimal text: more than two
 * decimals are rounded half away from zero. Returns null for anything that is not a decimal number.
 */
export function rublesToKopecks(value: number | string): number | null {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    // String() gives the shortest text that reads back as the same double: 0.1 → "0.1", not 0.1000000000000000055…
    text = String(value);
    if (/e/i.test(text)) text = value.toFixed(6);
  } else {
    text = value.trim();
  }
  const m = DECIMAL.exec(text);
  if (!m) return null;
  const [, sign, whole, frac = ""] = m;
  const padded = (frac + "000").slice(0, 3);
  let kopecks = Number(whole) * 100 + Number(padded.slice(0, 2));
  if (Number(padded[2]) >= 5) kopecks += 1;
  return sign === "-" && kopecks !== 0 ? -kopecks : kopecks;
}

/** Kopecks as the apps' ruble number (`balance: 123.45`): k / 100 prints as the exact two-decimal text. */
export function kopecksToRubles(kopecks: number): number {
  return kopecks / 100;
}
