/**
 * L2-regularised logistic regression on frozen features, fast enough to fit thousands of times in a
 * benchmark: the linear head of the representation benchmark (bench/representation.ts), the same
 * head and the same tuning for every starting point.
 *   fitLogistic      minimises C·Σ log-loss + ½‖w‖², intercept unpenalised (scikit-learn's C), by
 *                    Newton's method with a backtracking line search. With more features than
 *                    examples (1280-d ImageNet features, 26 to 376 galaxies) the fit runs in the
 *                    n-dimensional span of the examples: the L2-penalised optimum lies there, so
 *                    the problem and its answer are the same, and a Newton step costs n³, not d³.
 *   chooseC          C from a grid by stratified k-fold cross-validation inside the rows it is given
 *                    (held-out log-loss, each fold standardised on its own training rows).
 *   fitLinearProbe   standardise → chooseC → refit on all the rows: what a training set gets. The
 *                    test rows never enter it; probeScores applies it to them afterwards.
 * Row-major features (Float32Array or Float64Array, `dim` columns); labels 0/1; float64 inside.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { seededRng, shuffle } from '../data/augment';
import { cholesky, solveLower, solveUpperTransposed } from '../anomaly/linalg';

type Rows = Float32Array | Float64Array;

/** The defaults of every option (the benchmark's JSON records them). */
export const LOGISTIC_DEFAULTS = {
  c: 1,
  /**
   * 1e-4 … 1e1, half a decade apart. On standardised ring features (256-d galmorph, 1280-d ImageNet,
   * 26 to 158 training galaxies) the cross-validated optimum lies between 3e-4 and 1e-2 and the
   * held-out loss only rises above 0.1.
   */
  grid: Array.from({ length: 11 }, (_, i) => 10 ** (-4 + i / 2)),
  folds: 5,
  seed: 0,
  maxIterations: 100,
  /** Stop when half the Newton decrement falls below this times max(1, objective). */
  tolerance: 1e-10,
} as const;

export interface LogisticOptions {
  /** Inverse regularisation strength, as scikit-learn's C. Default 1. */
  c?: number;
  maxIterations?: number;
  tolerance?: number;
}

export interface LogisticModel {
  /** [dim] weights and the intercept: p = σ(x·w + b). */
  weights: Float64Array;
  intercept: number;
  c: number;
  iterations: number;
  converged: boolean;
}

export interface CvOptions extends Omit<LogisticOptions, 'c'> {
  /** Candidate C values. Default 1e-4 … 1e1, half a decade apart. */
  grid?: readonly number[];
  /** Folds; fewer when a class has fewer rows (at least 2 of each class are needed). Default 5. */
  folds?: number;
  /** Seeds the fold assignment. Default 0. */
  seed?: number;
}

export interface CvResult {
  /** The chosen C: lowest mean held-out log-loss, the smaller C on a tie. */
  c: number;
  grid: number[];
  /** Mean held-out log-loss per grid value. */
  logLoss: number[];
  folds: number;
}

export interface Standardiser {
  mean: Float64Array;
  /** Population standard deviation (as scikit-learn's StandardScaler); 1 for constant features. */
  scale: Float64Array;
}

export interface LinearProbe {
  standardiser: Standardiser;
  model: LogisticModel;
  cv: CvResult;
}

function checkRows(x: Rows, dim: number, y: ArrayLike<number>): number {
  if (!(dim > 0) || x.length % dim !== 0) throw new Error(`galmorph: ${x.length} feature values do not make rows of ${dim}`);
  const n = x.length / dim;
  if (y.length !== n) throw new Error(`galmorph: ${n} feature rows but ${y.length} labels`);
  for (let i = 0; i < n; i++) if (y[i] !== 0 && y[i] !== 1) throw new Error(`galmorph: logistic regression needs labels 0 or 1, row ${i} has ${y[i]}`);
  return n;
}

/** Per-column mean and population standard deviation of the rows. */
export function fitStandardiser(x: Rows, dim: number): Standardiser {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  const scale = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += x[i * dim + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) scale[j]! += (x[i * dim + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < dim; j++) scale[j] = Math.sqrt(scale[j]!) || 1;
  return { mean, scale };
}

export function standardise(s: Standardiser, x: Rows): Float64Array {
  const dim = s.mean.length;
  const out = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = (x[k]! - s.mean[k % dim]!) / s.scale[k % dim]!;
  return out;
}

/**
 * Coordinates z (n × r, r ≤ min(n, d)) with z zᵀ = x xᵀ, and the map from a weight vector v in them
 * back to feature weights w = xᵀ a (so x w = z v and ‖w‖ = ‖v‖). With d ≤ n, z is x itself.
 */
function spanBasis(x: Float64Array, n: number, d: number): { z: Float64Array; r: number; toWeights: (v: Float64Array) => Float64Array } {
  if (d <= n) return { z: x, r: d, toWeights: (v) => Float64Array.from(v) };
  const k = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += x[i * d + t]! * x[j * d + t]!;
      k.set(i, j, s);
      k.set(j, i, s);
    }
  }
  const evd = new EigenvalueDecomposition(k, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const top = Math.max(...values);
  // Directions with (numerically) zero variance carry no data: standardised features are centred, so there is always one.
  const keep = values.map((v, c) => (v > 1e-10 * top ? c : -1)).filter((c) => c >= 0);
  const r = keep.length;
  const z = new Float64Array(n * r);
  const inv = keep.map((c) => 1 / Math.sqrt(values[c]!));
  for (let i = 0; i < n; i++) keep.forEach((c, m) => (z[i * r + m] = vectors.get(i, c) / inv[m]!));
  return {
    z,
    r,
    toWeights: (v) => {
      // a = U Λ^-1/2 v, w = xᵀ a
      const w = new Float64Array(d);
      for (let i = 0; i < n; i++) {
        let a = 0;
        keep.forEach((c, m) => (a += vectors.get(i, c) * inv[m]! * v[m]!));
        for (let t = 0; t < d; t++) w[t]! += a * x[i * d + t]!;
      }
      return w;
    },
  };
}

const softplus = (t: number) => Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

interface NewtonResult {
  /** [r] weights then the intercept. */
  theta: Float64Array;
  iterations: number;
  converged: boolean;
}

/** Newton's method on C·Σ log-loss(z θ) + ½‖θ without intercept‖², from `init` (zeros by default). */
function newton(z: Float64Array, n: number, r: number, y: ArrayLike<number>, c: number, maxIterations: number, tolerance: number, init?: Float64Array): NewtonResult {
  const m = r + 1;
  const theta = init ? Float64Array.from(init) : new Float64Array(m);
  const margins = (th: Float64Array) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = th[r]!;
      for (let a = 0; a < r; a++) s += z[i * r + a]! * th[a]!;
      out[i] = s;
    }
    return out;
  };
  const objective = (th: Float64Array, t: Float64Array) => {
    let f = 0;
    for (let i = 0; i < n; i++) f += c * (softplus(t[i]!) - y[i]! * t[i]!);
    for (let a = 0; a < r; a++) f += 0.5 * th[a]! ** 2;
    return f;
  };
  let t = margins(theta);
  let f = objective(theta, t);
  for (let it = 1; it <= maxIterations; it++) {
    const g = new Float64Array(m);
    const h = new Float64Array(m * m);
    for (let a = 0; a < r; a++) {
      g[a] = theta[a]!;
      h[a * m + a] = 1;
    }
    h[r * m + r] = 1e-12; // the intercept is unpenalised; this only guards the factorisation
    for (let i = 0; i < n; i++) {
      const p = sigmoid(t[i]!);
      const e = c * (p - y[i]!);
      const s = c * p * (1 - p);
      const row = i * r;
      for (let a = 0; a < r; a++) {
        const za = z[row + a]!;
        g[a]! += e * za;
        const sa = s * za;
        for (let b = 0; b <= a; b++) h[a * m + b]! += sa * z[row + b]!;
        h[r * m + a]! += sa;
      }
      g[r]! += e;
      h[r * m + r]! += s;
    }
    for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) h[b * m + a] = h[a * m + b]!;
    const l = cholesky(h, m);
    const step = solveUpperTransposed(l, m, solveLower(l, m, g));
    let decrement = 0;
    for (let a = 0; a < m; a++) decrement += g[a]! * step[a]!;
    if (decrement / 2 <= tolerance * Math.max(1, f)) {
      // Near the optimum the full step is safe and squares the remaining error.
      for (let a = 0; a < m; a++) theta[a]! -= step[a]!;
      return { theta, iterations: it, converged: true };
    }
    // Backtracking (Armijo): the full step is almost always taken near the optimum.
    let size = 1;
    for (;;) {
      const next = theta.map((v, a) => v - size * step[a]!);
      const tn = margins(next);
      const fn = objective(next, tn);
      if (fn <= f - 1e-4 * size * decrement || size < 1e-10) {
        theta.set(next);
        t = tn;
        f = fn;
        break;
      }
      size /= 2;
    }
  }
  return { theta, iterations: maxIterations, converged: false };
}

/** One fit per C of `grid` (ascending is fastest: each starts from the previous optimum), in the span of the rows. */
function fitPath(x: Float64Array, dim: number, y: ArrayLike<number>, grid: readonly number[], options: LogisticOptions): LogisticModel[] {
  const n = x.length / dim;
  const { z, r, toWeights } = spanBasis(x, n, dim);
  const maxIterations = options.maxIterations ?? LOGISTIC_DEFAULTS.maxIterations;
  const tolerance = options.tolerance ?? LOGISTIC_DEFAULTS.tolerance;
  let previous: Float64Array | undefined;
  return grid.map((c) => {
    if (!(c > 0)) throw new Error(`galmorph: the regularisation C must be positive, got ${c}`);
    const fit = newton(z, n, r, y, c, maxIterations, tolerance, previous);
    previous = fit.theta;
    return { weights: toWeights(fit.theta.subarray(0, r)), intercept: fit.theta[r]!, c, iterations: fit.iterations, converged: fit.converged };
  });
}

/** L2-regularised logistic regression on the rows as given (no standardisation). */
export function fitLogistic(x: Rows, dim: number, y: ArrayLike<number>, options: LogisticOptions = {}): LogisticModel {
  checkRows(x, dim, y);
  return fitPath(Float64Array.from(x), dim, y, [options.c ?? LOGISTIC_DEFAULTS.c], options)[0]!;
}

/** Margins x·w + b of every row. */
export function logisticMargins(model: LogisticModel, x: Rows): Float64Array {
  const d = model.weights.length;
  const out = new Float64Array(x.length / d);
  for (let i = 0; i < out.length; i++) {
    let s = model.intercept;
    for (let j = 0; j < d; j++) s += x[i * d + j]! * model.weights[j]!;
    out[i] = s;
  }
  return out;
}

/** Stratified folds: each class shuffled (seeded) and dealt round-robin; held-out row indices per fold. */
export function stratifiedFolds(y: ArrayLike<number>, folds: number, seed = 0): number[][] {
  const rng = seededRng(seed * 2654435761 + 17);
  const out: number[][] = Array.from({ length: folds }, () => []);
  let next = 0;
  for (const label of [0, 1]) {
    const rows = shuffle(Array.from(y, (v, i) => (v === label ? i : -1)).filter((i) => i >= 0), rng);
    for (const i of rows) out[next++ % folds]!.push(i);
  }
  return out.map((f) => f.sort((a, b) => a - b));
}

function pickRows(x: Rows, dim: number, rows: number[]): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((i, k) => {
    for (let j = 0; j < dim; j++) out[k * dim + j] = x[i * dim + j]!;
  });
  return out;
}

/** C by stratified k-fold cross-validation on these rows only (each fold standardised on its own training rows). */
export function chooseC(x: Rows, dim: number, y: ArrayLike<number>, options: CvOptions = {}): CvResult {
  const n = checkRows(x, dim, y);
  const grid = [...(options.grid ?? LOGISTIC_DEFAULTS.grid)].sort((a, b) => a - b);
  if (grid.length === 0) throw new Error('galmorph: the grid of C values is empty');
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  const smaller = Math.min(positives, n - positives);
  if (smaller < 2) throw new Error(`galmorph: cross-validation needs at least 2 rows of each class, there are ${positives} positives and ${n - positives} negatives`);
  const k = Math.min(options.folds ?? LOGISTIC_DEFAULTS.folds, smaller);
  const loss = new Float64Array(grid.length);
  for (const held of stratifiedFolds(y, k, options.seed ?? LOGISTIC_DEFAULTS.seed)) {
    const heldSet = new Set(held);
    const train = Array.from({ length: n }, (_, i) => i).filter((i) => !heldSet.has(i));
    const xTrain = pickRows(x, dim, train);
    const s = fitStandardiser(xTrain, dim);
    const models = fitPath(standardise(s, xTrain), dim, train.map((i) => y[i]!), grid, options);
    const xHeld = standardise(s, pickRows(x, dim, held));
    models.forEach((m, g) => {
      logisticMargins(m, xHeld).forEach((t, h) => (loss[g]! += softplus(t) - y[held[h]!]! * t));
    });
  }
  const logLoss = Array.from(loss, (l) => l / n);
  let best = 0;
  logLoss.forEach((l, g) => (l < logLoss[best]! ? (best = g) : undefined));
  return { c: grid[best]!, grid, logLoss, folds: k };
}

/** Standardise → choose C by cross-validation inside these rows → refit on all of them. */
export function fitLinearProbe(x: Rows, dim: number, y: ArrayLike<number>, options: CvOptions = {}): LinearProbe {
  const cv = chooseC(x, dim, y, options);
  const standardiser = fitStandardiser(x, dim);
  const model = fitLogistic(standardise(standardiser, x), dim, y, { ...options, c: cv.c });
  return { standardiser, model, cv };
}

/** Probabilities of the positive class for rows of raw features. */
export function probeScores(probe: LinearProbe, x: Rows): Float64Array {
  return logisticMargins(probe.model, standardise(probe.standardiser, x)).map(sigmoid);
}
