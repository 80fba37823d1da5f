/** Bounded in-memory maps: the caches on the request path never grow without limit. */

/** When `map` holds `max` entries or more, drops its oldest tenth (insertion order) to make room. */
export function makeRoom<K, V>(map: Map<K, V>, max: number): void {
  if (map.size < max) return;
  let drop = Math.ceil(max / 10);
  for (const key of map.keys()) {
    if (drop-- <= 0) break;
    map.delete(key);
  }
}
