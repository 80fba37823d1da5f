/**
 * Refuses webhook targets inside the network (loopback, link-local, private, CGNAT, unique-local, …):
 * checked when a URL is accepted and again before each delivery, since DNS answers can change.
 */
import ipaddr from "ipaddr.js";
import { ValidationError } from "../errors.ts";

/** ipaddr.js ranges a webhook may target; everything else (private, loopback, linkLocal, carrierGradeNat, uniqueLocal, unspecified, reserved, multicast, …) is refused. */
const PUBLIC = new Set(["unicast", "global"]);

/** The non-public range `ip` is in, or undefined when it is public. */
export function blockedRange(ip: string): string | undefined {
  let addr = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  const range = addr.range();
  return PUBLIC.has(range) ? undefined : range;
}

/** The addresses `host` stands for: itself when it is an IP literal, else its A and AAAA records. */
async function addressesOf(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(bare)) return [bare];
  const lookups = await Promise.allSettled([Deno.resolveDns(bare, "A"), Deno.resolveDns(bare, "AAAA")]);
  return lookups.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
}

/**
 * Why `url` may not be a webhook target (a sentence), or undefined when it may. With `allowPrivate` only
 * the scheme is checked.
 */
export async function targetProblem(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "must be an http or https URL";
  if (allowPrivate) return undefined;
  const addresses = await addressesOf(u.hostname);
  if (!addresses.length) return `host ${u.hostname} does not resolve`;
  for (const ip of addresses) {
    const range = blockedRange(ip);
    if (range) return `resolves to ${ip}, a ${range} address; webhooks go to public addresses only`;
  }
  return undefined;
}

/** 422 (field `field`) when `url` may not be a webhook target. */
export async function assertPublicTarget(url: string, allowPrivate: boolean, field = "url"): Promise<void> {
  const problem = await targetProblem(url, allowPrivate);
  if (problem) throw new ValidationError([{ field, message: problem }], "The webhook target is refused");
}
