/**
 * Admin API keys (config API_KEYS): matching a presented key, and the stable non-secret id each key is known
 * by wherever one key must be told from another (its fair share of sessions, its WebSocket tickets).
 */
import { constantTimeEqual, sha256Hex } from "../crypto.ts";

/** Hex characters of a key id: the first 8 bytes of the key's SHA-256. */
const ID_HEX = 16;

// ids per API_KEYS list, hashed once per list (the config's array lives as long as the app)
const idsOf = new WeakMap<readonly string[], readonly string[]>();

/**
 * The id of API key `key`: the first 8 bytes (hex) of its SHA-256. Not the key and not its position in
 * API_KEYS, so it survives reordering or adding keys, and every instance computes the same one.
 */
export function apiKeyIdFor(key: string): string {
  return sha256Hex(key).slice(0, ID_HEX);
}

/** The ids of `keys`, in the same order (computed once per list). */
export function apiKeyIds(keys: readonly string[]): readonly string[] {
  let ids = idsOf.get(keys);
  if (!ids) idsOf.set(keys, ids = keys.map(apiKeyIdFor));
  return ids;
}

/** The id of the configured key that `key` is (each key compared in constant time), or null. */
export function matchApiKey(keys: readonly string[], key: string | undefined): string | null {
  const at = indexOfKey(keys, key);
  return at < 0 ? null : apiKeyIds(keys)[at];
}

/** True when `key` is one of the configured API keys (constant-time per key). */
export function isApiKey(keys: readonly string[], key: string | undefined): boolean {
  return indexOfKey(keys, key) >= 0;
}

/** Where `key` is in `keys` (-1: nowhere), comparing it with every key in constant time. */
function indexOfKey(keys: readonly string[], key: string | undefined): number {
  if (!key) return -1;
  // A length no key has cannot match: skip the encoding and comparing (an access token is far longer than a
  // key, and this is on every authenticated request). It tells a caller only that no key is this long.
  if (!keys.some((k) => k.length === key.length)) return -1;
  let found = -1;
  for (let i = 0; i < keys.length; i++) if (constantTimeEqual(keys[i], key)) found = i;
  return found;
}
