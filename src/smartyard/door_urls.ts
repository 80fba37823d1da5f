/**
 * Door URL templates: many intercom panels open a door on an HTTP GET (e.g. Beward
 * `/cgi-bin/intercom_cgi?action=maindoor`). Templates may use `{domophoneId}`, `{doorId}` and
 * `{secret:NAME}`; secrets come from SMARTYARD_DOOR_SECRETS, so panel passwords never sit in the database.
 */
import type { Config } from "../config.ts";

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Why `template` is not a usable door URL, or null when it is. */
export function doorUrlProblem(
  config: Pick<Config, "SMARTYARD_DOOR_SECRETS">,
  template: string,
): string | null {
  for (const [, inner] of template.matchAll(PLACEHOLDER)) {
    if (inner === "domophoneId" || inner === "doorId") continue;
    const secret = /^secret:([\w.-]+)$/.exec(inner);
    if (!secret) return `unknown placeholder {${inner}} (use {domophoneId}, {doorId} or {secret:NAME})`;
    if (!(secret[1] in config.SMARTYARD_DOOR_SECRETS)) {
      return `{secret:${secret[1]}} is not in SMARTYARD_DOOR_SECRETS`;
    }
  }
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(template)?.[1];
  const password = userinfo?.includes(":") ? userinfo.slice(userinfo.indexOf(":") + 1) : "";
  if (password && !/^\{secret:[\w.-]+\}$/.test(password)) {
    return "write the panel password as {secret:NAME} and put it in SMARTYARD_DOOR_SECRETS";
  }
  let url: URL;
  try {
    url = new URL(template.replace(PLACEHOLDER, "0"));
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http:// or https:// URL";
  return null;
}

/** The request that opens one door: the URL with placeholders filled, and Basic credentials taken out of it. */
export function doorRequest(
  config: Pick<Config, "SMARTYARD_DOOR_SECRETS">,
  template: string,
  door: { domophoneId: number; doorId: number },
): { url: string; headers: Record<string, string> } {
  const filled = template.replace(PLACEHOLDER, (_m, inner: string) => {
    if (inner === "domophoneId") return String(door.domophoneId);
    if (inner === "doorId") return String(door.doorId);
    const name = inner.slice("secret:".length);
    return encodeURIComponent(config.SMARTYARD_DOOR_SECRETS[name] ?? "");
  });
  const url = new URL(filled);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    // fetch refuses URLs with credentials; panels take them as Basic auth.
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    headers.authorization = `Basic ${
      btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${pass}`)))
    }`;
    url.username = "";
    url.password = "";
  }
  return { url: url.toString(), headers };
}
