/**
 * Billing's last answers per phone (the "contracts cache"): access checks (doors, cameras, payments) read it
 * while fresh (SMARTYARD_BILLING_CACHE_S); the apps' own list calls ask billing live and refresh it; when
 * billing is down, the last answer is used, so doors keep opening during a billing outage.
 */
import { asc, eq, sql } from "drizzle-orm";
import { smartyardBillingCache } from "../../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { BillingAddress, BillingPlace } from "./billing.ts";
import { UpstreamError } from "./errors.ts";
import type { SmartyardDeps } from "./mod.ts";

/** `live`: ask billing (fall back to the cache if it fails); `fresh`: the cache while fresh, else live; `cache`: never ask. */
export type CacheMode = "live" | "fresh" | "cache";

/** A contract as cached: enough to check ownership and to build the settings list. */
export interface CachedContract {
  clientId: string;
  contractName: string;
  address: string;
  houseId: number | null;
  services: string[];
}

/** One phone's cache row as admins see it. */
export interface BillingCacheEntry {
  phone: string;
  addresses: BillingAddress[] | null;
  addresses_at: string | null;
  contracts: CachedContract[] | null;
  contracts_at: string | null;
}

type Row = typeof smartyardBillingCache.$inferSelect;

async function cacheRow(deps: Pick<Deps, "db">, phone: string): Promise<Row | undefined> {
  const [row] = await deps.db.select().from(smartyardBillingCache).where(
    eq(smartyardBillingCache.phone, phone),
  );
  return row;
}

/** Which half of a phone's cache row: getaddresslist's or getlist's. */
type Part = "addresses" | "contracts";

/**
 * The one caching rule for both halves: `cache` and fresh `fresh` reads use the row; otherwise billing is asked
 * (which writes the row), and if billing fails (UpstreamError) an earlier answer, however old, stands in.
 */
async function cachedOrLive<P extends Part>(
  sy: SmartyardDeps,
  phone: string,
  mode: CacheMode,
  part: P,
  ask: () => Promise<NonNullable<Row[P]>>,
): Promise<NonNullable<Row[P]>> {
  const row = await cacheRow(sy, phone);
  const cached = row?.[part] ?? null;
  const at = part === "addresses" ? row?.addressesAt : row?.contractsAt;
  const fresh = !!at && sy.clock.now().getTime() - at.getTime() < sy.config.SMARTYARD_BILLING_CACHE_S * 1000;
  if (mode === "cache" || (mode === "fresh" && fresh)) return (cached ?? []) as NonNullable<Row[P]>;
  try {
    return await ask();
  } catch (err) {
    if (!(err instanceof UpstreamError) || cached === null) throw err;
    sy.log.warn(`billing down: using cached ${part}`, { reason: err.message });
    return cached as NonNullable<Row[P]>;
  }
}

/** The houses billing links to `phone`. */
export async function billingAddresses(
  sy: SmartyardDeps,
  phone: string,
  mode: CacheMode,
): Promise<BillingAddress[]> {
  const billing = sy.billing;
  if (!billing) return [];
  return await cachedOrLive(sy, phone, mode, "addresses", async () => {
    const addresses = await billing.addresses(phone);
    const now = sy.clock.now();
    await sy.db.insert(smartyardBillingCache).values({ phone, addresses, addressesAt: now })
      .onConflictDoUpdate({ target: smartyardBillingCache.phone, set: { addresses, addressesAt: now } });
    return addresses;
  });
}

/** `phone`'s contracts, flattened from billing's places. */
export async function billingContracts(
  sy: SmartyardDeps,
  phone: string,
  mode: CacheMode,
): Promise<CachedContract[]> {
  if (!sy.billing) return [];
  return await cachedOrLive(
    sy,
    phone,
    mode,
    "contracts",
    async () => toContracts(await billingPlaces(sy, phone)),
  );
}

/** Asks billing for `phone`'s places and balances (never cached: balances must be current) and caches the contracts. */
export async function billingPlaces(sy: SmartyardDeps, phone: string): Promise<BillingPlace[]> {
  if (!sy.billing) return [];
  const places = await sy.billing.places(phone);
  const contracts = toContracts(places);
  const now = sy.clock.now();
  await sy.db.insert(smartyardBillingCache).values({ phone, contracts, contractsAt: now })
    .onConflictDoUpdate({ target: smartyardBillingCache.phone, set: { contracts, contractsAt: now } });
  return places;
}

function toContracts(places: BillingPlace[]): CachedContract[] {
  return places.flatMap((p) =>
    p.accounts.map((a) => ({
      clientId: a.clientId,
      contractName: a.contractName,
      address: p.address,
      houseId: p.houseId,
      services: a.services,
    }))
  );
}

/** Phones whose cached billing addresses include `houseId`. */
export async function phonesBilledAt(deps: Pick<Deps, "db">, houseId: number): Promise<string[]> {
  const rows = await deps.db.select({ phone: smartyardBillingCache.phone }).from(smartyardBillingCache)
    .where(sql`${smartyardBillingCache.addresses} @> ${JSON.stringify([{ houseId }])}::jsonb`);
  return rows.map((r) => r.phone);
}

function toEntry(row: Row): BillingCacheEntry {
  return {
    phone: row.phone,
    addresses: row.addresses,
    addresses_at: row.addressesAt?.toISOString() ?? null,
    contracts: row.contracts,
    contracts_at: row.contractsAt?.toISOString() ?? null,
  };
}

/** The cache, by phone (admin). */
export async function listBillingCache(
  deps: Pick<Deps, "db">,
  page: { phone?: string; limit: number; offset: number },
): Promise<BillingCacheEntry[]> {
  const q = deps.db.select().from(smartyardBillingCache);
  const rows = await (page.phone ? q.where(eq(smartyardBillingCache.phone, page.phone)) : q)
    .orderBy(asc(smartyardBillingCache.phone)).limit(page.limit).offset(page.offset);
  return rows.map(toEntry);
}

/** Forgets what billing said about `phone`; answers whether there was anything. */
export async function purgeBillingCache(deps: Pick<Deps, "db">, phone: string): Promise<boolean> {
  const rows = await deps.db.delete(smartyardBillingCache).where(eq(smartyardBillingCache.phone, phone))
    .returning({ phone: smartyardBillingCache.phone });
  return rows.length > 0;
}
