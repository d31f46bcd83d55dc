/**
 * How well similarity search finds galaxies of the same kind, which the paper judged by eye:
 * every tagged galaxy queries on its own; precision@k is the fraction of its k nearest neighbours
 * that carry the tag, average precision summarises the whole ranking; both are averaged over the
 * tag's queries.
 */
import { seededRng, shuffle } from '../data/augment';
import { latestFor } from '../representations/latest';
import type { Embeddings } from '../data/embeddings';
import { Metric, similar } from './search';
import { RepresentationPca } from '../representations/pca';

export interface TagScore {
  /** precision@k for k = 1..maxK. */
  precision: number[];
  /** Mean average precision over the queries. */
  map: number;
  queries: number;
}

/** Average precision of one ranking (true = relevant), over all relevant items in it. */
export function averagePrecision(relevant: boolean[]): number {
  let hits = 0;
  let sum = 0;
  relevant.forEach((r, i) => {
    if (r) {
      hits++;
      sum += hits / (i + 1);
    }
  });
  return hits ? sum / hits : 0;
}

/** Scores a tag: each tagged galaxy queries the rest; `ranking` gives the order of the others. */
function scoreRankings(ids: string[], tagged: Set<string>, maxK: number, ranking: (query: string) => string[]): TagScore {
  const queries = ids.filter((id) => tagged.has(id));
  const precision = new Array<number>(maxK).fill(0);
  let map = 0;
  for (const q of queries) {
    const rel = ranking(q).map((id) => tagged.has(id));
    for (let k = 1; k <= maxK; k++) precision[k - 1]! += rel.slice(0, k).filter(Boolean).length / k;
    map += averagePrecision(rel);
  }
  return { precision: precision.map((p) => p / Math.max(queries.length, 1)), map: map / Math.max(queries.length, 1), queries: queries.length };
}

/** Precision@k and mAP of similarity search on embeddings for one tag. */
export function evaluateTag(e: Embeddings, tagged: Set<string>, options: { maxK?: number; metric?: Metric; pca?: number; scale?: boolean } = {}): TagScore {
  // PCA is fitted once for all queries, on all galaxies (no labels involved), and kept for the
  // next tag scored on the same embeddings: the fit is most of the cost for wide features.
  const space = options.pca ? projectOnce(e, options.pca, options.scale ?? false) : e;
  const n = e.ids.length;
  return scoreRankings(e.ids, tagged, options.maxK ?? 10, (q) => similar(space, q, { k: n - 1, metric: options.metric }).map((nb) => nb.id));
}

const projections = new WeakMap<Embeddings, { key: string; value: Embeddings }>();

/** `project`, remembered per embeddings object (only the latest: evaluations use one setting for every tag). */
function projectOnce(e: Embeddings, components: number, scale: boolean): Embeddings {
  return latestFor(projections, e, `${components} ${scale}`, () => project(e, components, scale));
}

/** Embeddings projected on their first `components` principal components. */
export function project(e: Embeddings, components: number, scale = false): Embeddings {
  const pca = RepresentationPca.fit(e, { components, scale });
  return { ids: e.ids, vectors: pca.transform(e.vectors), dim: components };
}

/** The same scores for a random ranking (seeded), the floor every representation should beat. */
export function evaluateRandom(ids: string[], tagged: Set<string>, options: { maxK?: number; seed?: number } = {}): TagScore {
  const rng = seededRng(options.seed ?? 0);
  return scoreRankings(ids, tagged, options.maxK ?? 10, (q) => {
    return shuffle(ids.filter((id) => id !== q), rng);
  });
}
