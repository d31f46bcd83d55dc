/**
 * Similarity search: one galaxy in, the galaxies nearest to it in representation space out.
 * Exact search over all galaxies (cosine or euclidean), optionally after PCA, as the paper does.
 * (Approximate search for very large catalogues: ./ann.ts.)
 */
import type { Embeddings } from '../data/embeddings';
import { RepresentationPca } from '../representations/pca';

export type Metric = 'cosine' | 'euclidean';
export const METRICS: Metric[] = ['cosine', 'euclidean'];

export interface Neighbour {
  id: string;
  rank: number;
  distance: number;
}

/** A neighbour by row index (what the search functions return before ids are attached). */
export interface Hit {
  index: number;
  distance: number;
}

export interface SearchOptions {
  /** Neighbours to return. Default 10. */
  k?: number;
  /** Default cosine. */
  metric?: Metric;
  /** Compare on PCA components: a number fits that many on these embeddings; a fitted PCA (e.g. `readPca`) is reused. */
  pca?: number | RepresentationPca;
}

/** The metric, or an error listing the valid ones. */
export function checkMetric(metric: string | undefined): Metric {
  const m = (metric ?? 'cosine') as Metric;
  if (!METRICS.includes(m)) throw new Error(`galmorph: unknown metric '${String(metric)}'. Valid choices: ${METRICS.join(', ')}`);
  return m;
}

/** Row of a galaxy, or an error naming the id. */
export function rowOf(e: Embeddings, id: string): number {
  const q = e.ids.indexOf(id);
  if (q < 0) throw new Error(`galmorph: galaxy '${id}' is not among the ${e.ids.length} embedded galaxies`);
  return q;
}

/** Embeddings in the space the search compares in: as they are, or on PCA components. */
export function searchSpace(e: Embeddings, pca: number | RepresentationPca | undefined): Embeddings {
  if (pca === undefined || pca === 0) return e;
  return (typeof pca === 'number' ? RepresentationPca.fit(e, { components: pca }) : pca).project(e);
}

/**
 * The `k` rows nearest to `query` (a vector of length e.dim), by exact comparison with every row;
 * `exclude` (a row index) is left out. Ties keep row order.
 */
export function exactSearch(e: Embeddings, query: ArrayLike<number>, k: number, metric: Metric, exclude = -1): Hit[] {
  const { vectors, dim } = e;
  const n = e.ids.length;
  let qq = 0;
  for (let j = 0; j < dim; j++) qq += query[j]! * query[j]!;
  const qn = Math.sqrt(qq) || 1;
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let sq = 0;
    let nn = 0;
    const off = i * dim;
    for (let j = 0; j < dim; j++) {
      const a = query[j]!;
      const b = vectors[off + j]!;
      dot += a * b;
      nn += b * b;
      sq += (a - b) * (a - b);
    }
    dist[i] = metric === 'cosine' ? 1 - dot / (qn * (Math.sqrt(nn) || 1)) : Math.sqrt(sq);
  }
  return topK(dist, k, exclude);
}

/** Indices of the k smallest values (ties by index), without sorting all of them when k is small. */
function topK(dist: Float64Array, k: number, exclude: number): Hit[] {
  const n = dist.length;
  const before = (a: number, b: number) => dist[a]! < dist[b]! || (dist[a] === dist[b] && a < b);
  if (k > 64) {
    const order = Array.from({ length: n }, (_, i) => i).filter((i) => i !== exclude);
    order.sort((a, b) => dist[a]! - dist[b]! || a - b);
    return order.slice(0, k).map((i) => ({ index: i, distance: dist[i]! }));
  }
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i === exclude) continue;
    if (best.length === k && !before(i, best[k - 1]!)) continue;
    let p = best.length === k ? k - 1 : best.length;
    while (p > 0 && before(i, best[p - 1]!)) {
      best[p] = best[p - 1]!;
      p--;
    }
    best[p] = i;
  }
  return best.map((i) => ({ index: i, distance: dist[i]! }));
}

/** Ranked neighbours of one galaxy (itself excluded); errors name the id and the valid metrics. */
export function similar(e: Embeddings, queryId: string, options: SearchOptions = {}): Neighbour[] {
  const metric = checkMetric(options.metric);
  const q = rowOf(e, queryId);
  const space = searchSpace(e, options.pca);
  const query = space.vectors.subarray(q * space.dim, (q + 1) * space.dim);
  return exactSearch(space, query, options.k ?? 10, metric, q).map((h, r) => ({ id: e.ids[h.index]!, rank: r + 1, distance: h.distance }));
}
