/**
 * Gaussian-process regression as the paper uses it for personalised anomaly detection: a
 * rational-quadratic kernel plus white noise, hyperparameters fitted by maximising the log marginal
 * likelihood (as scikit-learn's GaussianProcessRegressor does, here with a Nelder-Mead simplex in
 * log space), targets normalised to zero mean and unit variance before fitting.
 *
 *   k(x, x') = amplitude · (1 + |x - x'|² / (2 α ℓ²))^(-α) + noise · [x = x']
 */
import { seededRng } from '../data/augment';
import { cholesky, solveLower, solveUpperTransposed, squaredDistance } from './linalg';
import { nelderMead } from './nelder-mead';

export interface KernelParams {
  /** Signal variance of the rational-quadratic term. */
  amplitude: number;
  /** Length scale ℓ. */
  lengthScale: number;
  /** Scale mixture α (large α tends to a squared-exponential kernel). */
  alpha: number;
  /** White-noise variance (label noise of the researcher's scores). */
  noise: number;
}

const PARAM_NAMES: (keyof KernelParams)[] = ['amplitude', 'lengthScale', 'alpha', 'noise'];

export interface GaussianProcessOptions {
  /** Starting hyperparameters (fixed ones when `optimize` is false). Defaults: amplitude 1, length
   * scale the median distance between training points, α 1, noise 0.1. */
  kernel?: Partial<KernelParams>;
  /** Fit the hyperparameters by marginal likelihood. Default true. */
  optimize?: boolean;
  /** Extra optimiser starts from random points in the bounds, as scikit-learn's n_restarts_optimizer. Default 1. */
  restarts?: number;
  /** Bounds on every hyperparameter. Default [1e-5, 1e5], scikit-learn's. */
  bounds?: [number, number];
  /** Normalise targets to zero mean and unit variance. Default true. */
  normalizeY?: boolean;
  seed?: number;
}

export interface Prediction {
  mean: Float64Array;
  /** Predictive standard deviation of a new score (white noise included, as scikit-learn). */
  std: Float64Array;
}

export interface GaussianProcessJSON {
  kind: 'galmorph-gaussian-process';
  dim: number;
  params: KernelParams;
  normalizeY: boolean;
  x: number[];
  y: number[];
}

export function rationalQuadratic(sqDistance: number, p: KernelParams): number {
  return p.amplitude * Math.pow(1 + sqDistance / (2 * p.alpha * p.lengthScale * p.lengthScale), -p.alpha);
}

interface Factorised {
  l: Float64Array;
  weights: Float64Array;
  logLikelihood: number;
}

export class GaussianProcessRegressor {
  private x: Float64Array = new Float64Array(0);
  private y: number[] = [];
  private dim = 0;
  private yMean = 0;
  private yStd = 1;
  private fitted?: Factorised;
  private theta?: KernelParams;

  constructor(private readonly options: GaussianProcessOptions = {}) {}

  /** The fitted hyperparameters. */
  get params(): KernelParams {
    if (!this.theta) throw new Error('galmorph: the Gaussian process is not fitted yet');
    return { ...this.theta };
  }

  /** Log marginal likelihood of the (normalised) training targets at the fitted hyperparameters. */
  get logMarginalLikelihood(): number {
    if (!this.fitted) throw new Error('galmorph: the Gaussian process is not fitted yet');
    return this.fitted.logLikelihood;
  }

  /** Fits to n points (x: n×dim, row-major) with targets y. */
  fit(x: Float64Array, y: ArrayLike<number>, dim: number): this {
    const n = y.length;
    if (n < 1) throw new Error('galmorph: the Gaussian process needs at least one labelled point');
    if (x.length !== n * dim) throw new Error(`galmorph: ${n} targets need ${n * dim} feature values (dim ${dim}), got ${x.length}`);
    for (let i = 0; i < n; i++) if (!Number.isFinite(y[i]!)) throw new Error(`galmorph: target ${i} is not a number (${y[i]})`);
    this.x = x;
    this.y = Array.from(y);
    this.dim = dim;
    const normalise = this.options.normalizeY ?? true;
    this.yMean = normalise ? this.y.reduce((s, v) => s + v, 0) / n : 0;
    const variance = normalise ? this.y.reduce((s, v) => s + (v - this.yMean) ** 2, 0) / n : 1;
    this.yStd = variance > 0 ? Math.sqrt(variance) : 1;
    const yn = Float64Array.from(this.y, (v) => (v - this.yMean) / this.yStd);
    const sq = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) sq[i * n + j] = sq[j * n + i] = squaredDistance(x, i, x, j, dim);

    const start: KernelParams = {
      amplitude: 1,
      lengthScale: medianDistance(sq, n) || 1,
      alpha: 1,
      noise: 0.1,
      ...this.options.kernel,
    };
    let best = { params: start, f: factorise(sq, n, yn, start) };
    if (this.options.optimize ?? true) {
      const [lo, hi] = this.options.bounds ?? [1e-5, 1e5];
      const toParams = (t: number[]) =>
        Object.fromEntries(PARAM_NAMES.map((k, i) => [k, Math.exp(Math.min(Math.log(hi), Math.max(Math.log(lo), t[i]!)))])) as unknown as KernelParams;
      const objective = (t: number[]) => -(factorise(sq, n, yn, toParams(t))?.logLikelihood ?? -Infinity);
      const rng = seededRng(this.options.seed ?? 0);
      const starts = [PARAM_NAMES.map((k) => Math.log(start[k]))];
      for (let r = 0; r < (this.options.restarts ?? 1); r++) starts.push(PARAM_NAMES.map(() => Math.log(lo) + rng() * (Math.log(hi) - Math.log(lo))));
      for (const s of starts) {
        const m = nelderMead(objective, s, { maxEvaluations: 300, step: 1 });
        const params = toParams(m.x);
        const f = factorise(sq, n, yn, params);
        if (f && (!best.f || f.logLikelihood > best.f.logLikelihood)) best = { params, f };
      }
    }
    if (!best.f) throw new Error('galmorph: the Gaussian-process kernel matrix is not positive definite; add noise to the kernel');
    this.theta = best.params;
    this.fitted = best.f;
    return this;
  }

  /** Posterior mean and predictive standard deviation at m points (m×dim). */
  predict(points: Float64Array): Prediction {
    if (!this.fitted || !this.theta) throw new Error('galmorph: fit the Gaussian process before predicting');
    const { l, weights } = this.fitted;
    const n = this.y.length;
    const m = points.length / this.dim;
    if (!Number.isInteger(m)) throw new Error(`galmorph: points must have ${this.dim} values each`);
    const mean = new Float64Array(m);
    const std = new Float64Array(m);
    const ks = new Float64Array(n);
    const prior = this.theta.amplitude + this.theta.noise;
    for (let p = 0; p < m; p++) {
      let mu = 0;
      for (let i = 0; i < n; i++) {
        ks[i] = rationalQuadratic(squaredDistance(points, p, this.x, i, this.dim), this.theta);
        mu += ks[i]! * weights[i]!;
      }
      const v = solveLower(l, n, ks);
      let explained = 0;
      for (let i = 0; i < n; i++) explained += v[i]! * v[i]!;
      mean[p] = mu * this.yStd + this.yMean;
      std[p] = Math.sqrt(Math.max(prior - explained, 0)) * this.yStd;
    }
    return { mean, std };
  }

  toJSON(): GaussianProcessJSON {
    return { kind: 'galmorph-gaussian-process', dim: this.dim, params: this.params, normalizeY: this.options.normalizeY ?? true, x: Array.from(this.x), y: this.y };
  }

  /** A fitted process from `toJSON()`: same training data and hyperparameters, no re-optimisation. */
  static load(json: GaussianProcessJSON): GaussianProcessRegressor {
    if (json?.kind !== 'galmorph-gaussian-process') throw new Error("galmorph: not a saved Gaussian process (kind should be 'galmorph-gaussian-process')");
    return new GaussianProcessRegressor({ kernel: json.params, optimize: false, normalizeY: json.normalizeY }).fit(Float64Array.from(json.x), json.y, json.dim);
  }
}

/** Cholesky of K + noise·I and the weights K⁻¹y; undefined where K is not positive definite. */
function factorise(sq: Float64Array, n: number, y: Float64Array, p: KernelParams): Factorised | undefined {
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) k[i * n + j] = k[j * n + i] = rationalQuadratic(sq[i * n + j]!, p);
    k[i * n + i] = p.amplitude + p.noise + 1e-10;
  }
  let l: Float64Array;
  try {
    l = cholesky(k, n);
  } catch {
    return undefined;
  }
  const weights = solveUpperTransposed(l, n, solveLower(l, n, y));
  let logDet = 0;
  let fit = 0;
  for (let i = 0; i < n; i++) {
    logDet += Math.log(l[i * n + i]!);
    fit += y[i]! * weights[i]!;
  }
  return { l, weights, logLikelihood: -0.5 * fit - logDet - 0.5 * n * Math.log(2 * Math.PI) };
}

function medianDistance(sq: Float64Array, n: number): number {
  const d: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) d.push(Math.sqrt(sq[i * n + j]!));
  if (!d.length) return 1;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)]!;
}
