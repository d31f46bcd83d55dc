/**
 * Isolation forest (Liu, Ting & Zhou 2008), the unsupervised baseline: random axis-aligned splits
 * isolate unusual galaxies in fewer steps. Score 2^(-E[h(x)] / c(ψ)); higher is more anomalous.
 */
import { Rng, seededRng, shuffle } from '../data/augment';

export interface IsolationForestOptions {
  /** Trees. Default 100. */
  trees?: number;
  /** Sub-sample size ψ per tree. Default 256 (or all points if fewer). */
  sampleSize?: number;
  seed?: number;
}

type Node = { size: number } | { feature: number; threshold: number; left: Node; right: Node };

/** Average path length of an unsuccessful binary-search-tree search among n points. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649015329) - (2 * (n - 1)) / n;
}

export class IsolationForest {
  private constructor(
    private readonly forest: Node[],
    private readonly dim: number,
    private readonly sampleSize: number,
  ) {}

  /** Grows the forest on n points (x: n×dim, row-major). */
  static fit(x: Float64Array, dim: number, options: IsolationForestOptions = {}): IsolationForest {
    const n = x.length / dim;
    if (!Number.isInteger(n) || n < 2) throw new Error(`galmorph: isolation forest needs at least 2 points of dimension ${dim}`);
    const rng = seededRng(options.seed ?? 0);
    const psi = Math.min(options.sampleSize ?? 256, n);
    const limit = Math.ceil(Math.log2(psi));
    const forest: Node[] = [];
    for (let t = 0; t < (options.trees ?? 100); t++) {
      const sample = shuffle(Array.from({ length: n }, (_, i) => i), rng).slice(0, psi);
      forest.push(grow(x, dim, sample, 0, limit, rng));
    }
    return new IsolationForest(forest, dim, psi);
  }

  /** Anomaly score of each point, in (0, 1]. */
  score(x: Float64Array): Float64Array {
    const n = x.length / this.dim;
    const out = new Float64Array(n);
    const c = averagePathLength(this.sampleSize);
    for (let i = 0; i < n; i++) {
      let total = 0;
      for (const tree of this.forest) total += pathLength(tree, x, i * this.dim, 0);
      out[i] = Math.pow(2, -total / this.forest.length / c);
    }
    return out;
  }

  toJSON(): { kind: 'galmorph-isolation-forest'; dim: number; sampleSize: number; forest: Node[] } {
    return { kind: 'galmorph-isolation-forest', dim: this.dim, sampleSize: this.sampleSize, forest: this.forest };
  }

  static load(json: ReturnType<IsolationForest['toJSON']>): IsolationForest {
    if (json?.kind !== 'galmorph-isolation-forest') throw new Error("galmorph: not a saved isolation forest (kind should be 'galmorph-isolation-forest')");
    return new IsolationForest(json.forest, json.dim, json.sampleSize);
  }
}

function grow(x: Float64Array, dim: number, rows: number[], depth: number, limit: number, rng: Rng): Node {
  if (depth >= limit || rows.length <= 1) return { size: rows.length };
  const feature = Math.floor(rng() * dim);
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    const v = x[r * dim + feature]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) return { size: rows.length };
  const threshold = lo + rng() * (hi - lo);
  const left = rows.filter((r) => x[r * dim + feature]! < threshold);
  const right = rows.filter((r) => x[r * dim + feature]! >= threshold);
  return { feature, threshold, left: grow(x, dim, left, depth + 1, limit, rng), right: grow(x, dim, right, depth + 1, limit, rng) };
}

function pathLength(node: Node, x: Float64Array, offset: number, depth: number): number {
  if ('size' in node) return depth + averagePathLength(node.size);
  return pathLength(x[offset + node.feature]! < node.threshold ? node.left : node.right, x, offset, depth + 1);
}
