/**
 * The latest value computed from an embeddings object, remembered per object (a WeakMap, so it goes
 * with the object). The key holds the caller's settings and a checksum of the vectors (one pass, far
 * cheaper than a PCA fit), so vectors changed in place are computed afresh and the stale value dropped.
 */
import type { Embeddings } from '../data/embeddings';

export function latestFor<T>(cache: WeakMap<Embeddings, { key: string; value: T }>, e: Embeddings, settings: string, compute: () => T): T {
  let checksum = 0;
  for (let i = 0; i < e.vectors.length; i++) checksum += e.vectors[i]! * (1 + (i % 7));
  const key = `${settings} ${e.ids.length} ${e.dim} ${checksum}`;
  const last = cache.get(e);
  if (last?.key === key) return last.value;
  const value = compute();
  cache.set(e, { key, value });
  return value;
}
