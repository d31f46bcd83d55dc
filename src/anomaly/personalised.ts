/**
 * The paper's personalised anomaly finder: representations reduced by PCA (40 components), a
 * Gaussian process regressing the researcher's scores, and expected improvement choosing which
 * galaxies to show next: a few random galaxies first, then batches of the most promising.
 */
import { seededRng, shuffle } from '../data/augment';
import type { Embeddings } from '../data/embeddings';
import { latestFor } from '../representations/latest';
import { RepresentationPca } from '../representations/pca';
import { expectedImprovement, topK } from './acquisition';
import { GaussianProcessOptions, GaussianProcessRegressor, KernelParams } from './gaussian-process';
import { IsolationForest } from './isolation-forest';
import { MIN_SCORE } from './labels';

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
  /**
   * An unsupervised anomaly score per galaxy, in `ids` order (e.g. isolation forest's). The
   * researcher's scores are then modelled as a + b·prior (b ≥ 0, least squares on the labels so
   * far) plus the Gaussian process on what that leaves, and ties rank by the prior: while the labels
   * say nothing the ranking is the unsupervised one (where Astronomaly starts), and the process
   * takes over where they disagree with it. Default: none, the paper's finder.
   */
  prior?: ArrayLike<number>;
  /**
   * Where the prior comes from when `prior` is not given: 'isolation-forest' scores the finder's
   * features with an isolation forest (seeded with `seed`); 'none' (default) is the paper's finder.
   */
  priorFrom?: PriorSource;
}

export const PRIOR_SOURCES = ['none', 'isolation-forest'] as const;
export type PriorSource = (typeof PRIOR_SOURCES)[number];

/** Representations reduced by PCA (fitted on all of them) to `components` (default 40, at most their length). */
export function reduceForAnomalies(e: Embeddings, components: number = ANOMALY_DEFAULTS.components): { features: Float64Array; dim: number } {
  const dim = Math.min(components, e.dim);
  const features = latestFor(reductions, e, String(dim), () => Float64Array.from(RepresentationPca.fit(e, { components: dim }).transform(e.vectors)));
  return { features, dim };
}

/**
 * The latest reduction of each embeddings object: the baselines and every simulation of a task
 * reduce the same embeddings, and a fit of 1,280-d features still costs seconds (the covariance
 * and the leading eigenpairs). Callers get the same array: nothing here writes to it.
 */
const reductions = new WeakMap<Embeddings, { key: string; value: Float64Array }>();

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
  /**
   * Rank a galaxy the researcher scored by that score instead of the prediction (scored first on a
   * tie), and those scored 0, the bottom of the scale (what they called dull), below every unscored
   * galaxy: their favourites on top, the promising unscored ones next. Default true. With false,
   * every galaxy ranks by the prediction. (Until 2026-12-02 this put every scored galaxy first, even
   * those scored 0; until 2026-12-07 a galaxy scored 0 still rose above unscored ones predicted
   * below 0, as many are after many zeros.)
   */
  knownScores?: boolean;
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
  /** The prior standardised over all galaxies, and its fitted trend a + b·prior. */
  private readonly prior?: Float64Array;
  private trend = { a: 0, b: 0 };

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
    const given = options.prior ?? (options.priorFrom === 'isolation-forest' ? IsolationForest.fit(features, dim, { seed: options.seed ?? ANOMALY_DEFAULTS.seed }).score(features) : undefined);
    if (given) {
      const p = Float64Array.from(given);
      if (p.length !== ids.length) throw new Error(`galmorph: the prior has ${p.length} scores for ${ids.length} galaxies`);
      const bad = p.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`galmorph: the prior score of galaxy '${ids[bad]}' is not a number (${p[bad]})`);
      const mean = p.reduce((s, v) => s + v, 0) / p.length;
      const sd = Math.sqrt(p.reduce((s, v) => s + (v - mean) ** 2, 0) / p.length) || 1;
      this.prior = p.map((v) => (v - mean) / sd);
    }
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
    const { mean, std } = this.predict(unlabelled);
    const best = Math.max(...this.labels.values());
    const ei = expectedImprovement(mean, std, best, this.options.tradeoff ?? ANOMALY_DEFAULTS.tradeoff);
    return topK(ei, count).map((j) => this.ids[unlabelled[j]!]!);
  }

  /** The Gaussian process on the current labels (refitted only when labels changed). */
  fit(): GaussianProcessRegressor {
    if (this.labels.size < 2) throw new Error(`galmorph: score at least 2 galaxies before ranking (${this.labels.size} so far)`);
    if (this.gp && this.gpVersion === this.labelVersion) return this.gp;
    const rows = [...this.labels.keys()];
    this.trend = this.prior ? fitTrend(rows.map((i) => this.prior![i]!), rows.map((i) => this.labels.get(i)!)) : { a: 0, b: 0 };
    const { a, b } = this.trend;
    // Warm start from the previous fit: the hyperparameters change little between batches.
    this.gp = new GaussianProcessRegressor({ seed: this.options.seed, ...this.options.gp, kernel: { ...this.lastParams, ...this.options.gp?.kernel } }).fit(
      this.rows(rows),
      rows.map((i) => this.labels.get(i)! - (this.prior ? a + b * this.prior[i]! : 0)),
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
    const { mean, std } = this.predict(all);
    const prior = this.prior;
    const known = options.knownScores ?? true;
    // A galaxy scored at the bottom of the scale (0, or lower if such scores were given) is known to
    // be dull; an unscored one, however low its prediction, might not be. (Predictions fall below 0
    // after many zeros.)
    const lowest = Math.min(MIN_SCORE, ...this.labels.values());
    const value = Float64Array.from(all, (i) => {
      const label = known ? this.labels.get(i) : undefined;
      return label === undefined ? mean[i]! : label === lowest ? -Infinity : label;
    });
    const scored = (i: number) => (known && this.labels.has(i) ? 1 : 0);
    const order = all.sort((a, b) => value[b]! - value[a]! || scored(b) - scored(a) || mean[b]! - mean[a]! || (prior ? prior[b]! - prior[a]! : 0) || a - b);
    return order.map((i, r) => ({ id: this.ids[i]!, rank: r + 1, predicted: mean[i]!, std: std[i]!, label: this.labels.get(i) }));
  }

  /** The predicted scores of galaxies (by index): the process's mean plus the prior's trend. */
  private predict(indices: number[]): { mean: Float64Array; std: Float64Array } {
    const { mean, std } = this.fit().predict(this.rows(indices));
    if (this.prior) indices.forEach((i, r) => (mean[r] = mean[r]! + this.trend.a + this.trend.b * this.prior![i]!));
    return { mean, std };
  }

  private rows(indices: number[]): Float64Array {
    const out = new Float64Array(indices.length * this.dim);
    indices.forEach((i, r) => out.set(this.features.subarray(i * this.dim, (i + 1) * this.dim), r * this.dim));
    return out;
  }
}

/** Least squares y ≈ a + b·x with the slope held at b ≥ 0 (b = 0: a is the mean score). */
export function fitTrend(x: number[], y: number[]): { a: number; b: number } {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  const b = sxx > 0 ? Math.max(0, sxy / sxx) : 0;
  return { a: my - b * mx, b };
}
