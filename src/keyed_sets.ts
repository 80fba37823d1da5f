/** Sets of listeners kept per key (a session, a login), dropped when their last member leaves. */

/** Adds `value` to the set of `key` in `map`; returns the function that removes it again. */
export function addToKeyedSet<K, V>(map: Map<K, Set<V>>, key: K, value: V): () => void {
  let set = map.get(key);
  if (!set) map.set(key, set = new Set());
  set.add(value);
  return () => {
    set.delete(value);
    if (set.size === 0 && map.get(key) === set) map.delete(key);
  };
}
