/**
 * Webhook URLs that carry credentials (`https://user:pass@host/…`, `…?token=…`) are kept sealed at rest
 * (AES-GCM, the box that seals endpoint secrets) and out of logs and attempt errors; URLs without them
 * stay readable. The worker opens a URL right before posting to it.
 */
import type { SecretBox } from "./signing.ts";

const SEALED = "sealed:";

/** Whether `url` carries user info or a query string, the places URL credentials live. */
export function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return Boolean(u.username || u.password || u.search);
  } catch {
    return false;
  }
}

/** `url` as stored: sealed when it carries credentials, otherwise unchanged. */
export function sealUrl(box: SecretBox, url: string): string {
  return hasCredentials(url) ? SEALED + box.seal(url) : url;
}

/** The URL `stored` was made from (a plain URL is returned as is); throws when sealed under another key. */
export function openUrl(box: SecretBox, stored: string): string {
  return stored.startsWith(SEALED) ? box.open(stored.slice(SEALED.length)) : stored;
}

/** `url` without user info and with its query replaced by `?…`: what logs and errors may show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(invalid url)";
  }
}

/** `text` (an error message) with `url`, as given or as normalised by `fetch`, replaced by its redacted form. */
export function scrubUrl(text: string, url: string): string {
  let normalised = url;
  try {
    normalised = new URL(url).href;
  } catch { /* an invalid URL is scrubbed as written */ }
  const redacted = redactUrl(url);
  return text.split(url).join(redacted).split(normalised).join(redacted);
}
