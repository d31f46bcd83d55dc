/**
 * Similarity search: one galaxy in, the galaxies nearest to it in representation space out.
 * Exact search over all galaxies (cosine or euclidean), optionally after PCA, as the paper does.
 */
import type { Embeddings } from '../representations/embed';
import { RepresentationPca } from '../representations/pca';

export type Metric = 'cosine' | 'euclidean';
export const METRICS: Metric[] = ['cosine', 'euclidean'];

export interface Neighbour {
  id: string;
  rank: number;
  distance: number;
}

export interface SearchOptions {
  k?: number;
  metric?: Metric;
  /** Reduce to this many PCA components (fitted on these embeddings) first. */
  pca?: number;
}

/** Ranked neighbours of one galaxy (itself excluded); errors name the id and the valid metrics. */
export function similar(e: Embeddings, queryId: string, options: SearchOptions = {}): Neighbour[] {
  const metric = options.metric ?? 'cosine';
  if (!METRICS.includes(metric)) throw new Error(`galmorph: unknown metric '${String(metric)}'. Valid choices: ${METRICS.join(', ')}`);
  const q = e.ids.indexOf(queryId);
  if (q < 0) throw new Error(`galmorph: galaxy '${queryId}' is not among the ${e.ids.length} embedded galaxies`);
  let vectors = e.vectors;
  let dim = e.dim;
  if (options.pca) {
    const pca = RepresentationPca.fit(e, { components: options.pca });
    vectors = pca.transform(e.vectors);
    dim = options.pca;
  }
  const n = e.ids.length;
  const norm = (i: number) => Math.sqrt(vectors.subarray(i * dim, (i + 1) * dim).reduce((s, v) => s + v * v, 0)) || 1;
  const qn = norm(q);
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let sq = 0;
    for (let j = 0; j < dim; j++) {
      const a = vectors[q * dim + j]!;
      const b = vectors[i * dim + j]!;
      dot += a * b;
      sq += (a - b) * (a - b);
    }
    dist[i] = metric === 'cosine' ? 1 - dot / (qn * norm(i)) : Math.sqrt(sq);
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => i !== q)
    .sort((a, b) => dist[a]! - dist[b]!);
  return order.slice(0, options.k ?? 10).map((i, r) => ({ id: e.ids[i]!, rank: r + 1, distance: dist[i]! }));
}
