/** Seeded synthetic embeddings for the benchmarks (bench:ann, bench:scale) and tests: Gaussian mixtures, and real embeddings with jittered copies. */
import { seededRng } from '../src/data/augment';
import type { Embeddings } from '../src/data/embeddings';

export function gaussian(rng: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** n points in `dim` dimensions from a mixture of `clusters` Gaussians with random centres and per-cluster scales. */
export function mixture(n: number, dim: number, clusters: number, seed: number): Embeddings {
  const rng = seededRng(seed);
  const g = gaussian(rng);
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: dim }, () => 3 * g()));
  const spread = Array.from({ length: clusters }, () => Float64Array.from({ length: dim }, () => 0.3 + 1.2 * rng()));
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng() * clusters);
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = centres[c]![j]! + spread[c]![j]! * g();
  }
  return { ids: Array.from({ length: n }, (_, i) => `s${i}`), vectors, dim };
}

/** The embeddings plus copies with Gaussian noise (sd `noise` × each dimension's sd) up to n galaxies. */
export function jittered(e: Embeddings, n: number, noise: number, seed: number): Embeddings {
  const g = gaussian(seededRng(seed));
  const d = e.dim;
  const m = e.ids.length;
  const sd = new Float64Array(d);
  const mean = new Float64Array(d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mean[j]! += e.vectors[i * d + j]! / m;
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) sd[j]! += (e.vectors[i * d + j]! - mean[j]!) ** 2 / (m - 1);
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]!);
  const vectors = new Float32Array(n * d);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const src = i % m;
    ids.push(i < m ? e.ids[src]! : `${e.ids[src]}~${Math.floor(i / m)}`);
    for (let j = 0; j < d; j++) vectors[i * d + j] = e.vectors[src * d + j]! + (i < m ? 0 : noise * sd[j]! * g());
  }
  return { ids, vectors, dim: d };
}
