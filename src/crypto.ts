/** Small crypto helpers shared by OTP, refresh tokens, API keys and camera tokens. */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Hex SHA-256 of a string; for high-entropy secrets (tokens) that need no key. */
export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Hex HMAC-SHA256; for low-entropy secrets (OTP codes) that must not be guessable from a stolen table. */
export function hmacHex(key: string | Uint8Array, value: string): string {
  return createHmac("sha256", key).update(value).digest("hex");
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = new TextEncoder().encode(a);
  const bb = new TextEncoder().encode(b);
  // Compare against itself when lengths differ so the timing does not depend on the content.
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** A URL-safe random token with `bytes` bytes of entropy from the CSPRNG. */
export function randomToken(bytes = 32): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...buf)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A string of `length` uniformly random decimal digits from the CSPRNG (rejection sampling, no modulo bias). */
export function randomDigits(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < 250 && out.length < length) out += String(b % 10);
    }
  }
  return out;
}
