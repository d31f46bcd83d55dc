/**
 * The paper's personalised anomaly finder: representations reduced by PCA (40 components), a
 * Gaussian process regressing the researcher's scores, and expected improvement choosing which
 * galaxies to show next: a few random galaxies first, then batches of the most promising.
 */
import { seededRng, shuffle } from '../data/augment';
import type { Embeddings } from '../data/embeddings';
import { RepresentationPca } from '../representations/pca';
import { expectedImprovement, topK } from './acquisition';
import { GaussianProcessOptions, GaussianProcessRegressor, KernelParams } from './gaussian-process';

/** The defaults of the anomaly finder's options (the CLI shows these). */
export const ANOMALY_DEFAULTS = { components: 40, initialLabels: 10, batchSize: 10, tradeoff: 0.5, seed: 0 } as const;

export interface AnomalyFinderOptions {
  /** PCA components of the representation. Default 40, the paper's. */
  components?: number;
  /** Random galaxies labelled before the Gaussian process chooses. Default 10. */
  initialLabels?: number;
  /** Galaxies per batch. Default 10. */
  batchSize?: number;
  /** Expected-improvement trade-off ξ, in score units. Default 0.5. */
  tradeoff?: number;
  seed?: number;
  gp?: GaussianProcessOptions;
}

/** Representations reduced by PCA (fitted on all of them) to `components` (default 40, at most their length). */
export function reduceForAnomalies(e: Embeddings, components: number = ANOMALY_DEFAULTS.components): { features: Float64Array; dim: number } {
  const dim = Math.min(components, e.dim);
  return { features: Float64Array.from(RepresentationPca.fit(e, { components: dim }).transform(e.vectors)), dim };
}

export interface RankedGalaxy {
  id: string;
  rank: number;
  /** Predicted score (Gaussian-process mean). */
  predicted: number;
  std: number;
  /** The researcher's score, where given. */
  label?: number;
}

export interface RankingOptions {
  /** Put the galaxies the researcher already scored first, by their score. Default true. */
  labelledFirst?: boolean;
}

export class PersonalisedAnomalyFinder {
  private readonly index = new Map<string, number>();
  private readonly labels = new Map<number, number>();
  private readonly random: () => number;
  private gp?: GaussianProcessRegressor;
  /** Bumped by every label, so a re-scored galaxy also triggers a refit. */
  private labelVersion = 0;
  private gpVersion = -1;
  private lastParams?: KernelParams;

  /** `features`: n×dim row-major, already reduced (see `fromEmbeddings`). */
  constructor(
    readonly ids: string[],
    private readonly features: Float64Array,
    readonly dim: number,
    private readonly options: AnomalyFinderOptions = {},
  ) {
    if (features.length !== ids.length * dim) throw new Error(`galmorph: ${ids.length} galaxies need ${ids.length * dim} feature values, got ${features.length}`);
    ids.forEach((id, i) => {
      if (this.index.has(id)) throw new Error(`galmorph: galaxy id '${id}' appears twice in the embeddings`);
      this.index.set(id, i);
    });
    this.random = seededRng(options.seed ?? ANOMALY_DEFAULTS.seed);
  }

  /** From representations: PCA to `components` (default 40) dimensions, fitted on all galaxies. */
  static fromEmbeddings(e: Embeddings, options: AnomalyFinderOptions = {}): PersonalisedAnomalyFinder {
    const { features, dim } = reduceForAnomalies(e, options.components);
    return new PersonalisedAnomalyFinder(e.ids, features, dim, options);
  }

  /** Galaxies scored so far. */
  get labelledCount(): number {
    return this.labels.size;
  }

  /** Records the researcher's score of one galaxy (a later score replaces an earlier one). */
  label(id: string, score: number): void {
    const i = this.index.get(id);
    if (i === undefined) throw new Error(`galmorph: galaxy '${id}' is not among the ${this.ids.length} galaxies of this session`);
    if (!Number.isFinite(score)) throw new Error(`galmorph: score of '${id}' must be a number, got ${score}`);
    this.labels.set(i, score);
    this.labelVersion++;
  }

  /** Forgets a galaxy's score (an undo): it is unscored again and may be proposed again. */
  unlabel(id: string): void {
    const i = this.index.get(id);
    if (i === undefined) throw new Error(`galmorph: galaxy '${id}' is not among the ${this.ids.length} galaxies of this session`);
    if (this.labels.delete(i)) this.labelVersion++;
  }

  labelsById(): Map<string, number> {
    return new Map([...this.labels].map(([i, s]) => [this.ids[i]!, s]));
  }

  /** The next galaxies to show: random until `initialLabels` are scored, then the highest expected improvement. */
  next(count = this.options.batchSize ?? ANOMALY_DEFAULTS.batchSize): string[] {
    const unlabelled = this.ids.map((_, i) => i).filter((i) => !this.labels.has(i));
    const initial = this.options.initialLabels ?? ANOMALY_DEFAULTS.initialLabels;
    if (this.labels.size < initial) {
      return shuffle(unlabelled, this.random).slice(0, Math.min(count, initial - this.labels.size)).map((i) => this.ids[i]!);
    }
    const { mean, std } = this.fit().predict(this.rows(unlabelled));
    const best = Math.max(...this.labels.values());
    const ei = expectedImprovement(mean, std, best, this.options.tradeoff ?? ANOMALY_DEFAULTS.tradeoff);
    return topK(ei, count).map((j) => this.ids[unlabelled[j]!]!);
  }

  /** The Gaussian process on the current labels (refitted only when labels changed). */
  fit(): GaussianProcessRegressor {
    if (this.labels.size < 2) throw new Error(`galmorph: score at least 2 galaxies before ranking (${this.labels.size} so far)`);
    if (this.gp && this.gpVersion === this.labelVersion) return this.gp;
    const rows = [...this.labels.keys()];
    // Warm start from the previous fit: the hyperparameters change little between batches.
    this.gp = new GaussianProcessRegressor({ seed: this.options.seed, ...this.options.gp, kernel: { ...this.lastParams, ...this.options.gp?.kernel } }).fit(
      this.rows(rows),
      rows.map((i) => this.labels.get(i)!),
      this.dim,
    );
    // Scores all alike fit a flat process (long length scale, all noise); warm-starting from that
    // keeps it flat after the scores start to differ, so only an informative fit seeds the next.
    const values = rows.map((i) => this.labels.get(i)!);
    this.lastParams = values.some((v) => v !== values[0]) ? this.gp.params : undefined;
    this.gpVersion = this.labelVersion;
    return this.gp;
  }

  /** Every galaxy ranked from most to least interesting to this researcher. */
  ranking(options: RankingOptions = {}): RankedGalaxy[] {
    const all = this.ids.map((_, i) => i);
    const { mean, std } = this.fit().predict(this.rows(all));
    const labelledFirst = options.labelledFirst ?? true;
    const order = all.sort((a, b) => {
      if (labelledFirst) {
        const la = this.labels.get(a);
        const lb = this.labels.get(b);
        if (la !== undefined || lb !== undefined) {
          if (la === undefined) return 1;
          if (lb === undefined) return -1;
          if (la !== lb) return lb - la;
        }
      }
      return mean[b]! - mean[a]! || a - b;
    });
    return order.map((i, r) => ({ id: this.ids[i]!, rank: r + 1, predicted: mean[i]!, std: std[i]!, label: this.labels.get(i) }));
  }

  private rows(indices: number[]): Float64Array {
    const out = new Float64Array(indices.length * this.dim);
    indices.forEach((i, r) => out.set(this.features.subarray(i * this.dim, (i + 1) * this.dim), r * this.dim));
    return out;
  }
}
