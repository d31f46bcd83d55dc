/**
 * Local outlier factor (Breunig et al. 2000), the second unsupervised baseline: how much sparser a
 * galaxy's neighbourhood is than its neighbours' neighbourhoods. Transductive, like scikit-learn's
 * default: scores the points it is given. Higher is more anomalous (≈ 1 for inliers).
 */
import { squaredDistance } from './linalg';

export interface LocalOutlierFactorOptions {
  /** Neighbours. Default 20, scikit-learn's. */
  neighbours?: number;
}

export function localOutlierFactor(x: Float64Array, dim: number, options: LocalOutlierFactorOptions = {}): Float64Array {
  const n = x.length / dim;
  const k = options.neighbours ?? 20;
  if (!Number.isInteger(n) || n <= k) throw new Error(`galmorph: local outlier factor with ${k} neighbours needs more than ${k} points, got ${n}`);
  const neighbours: Int32Array[] = [];
  const kDistance = new Float64Array(n);
  const row = new Float64Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) row[j] = j === i ? Infinity : Math.sqrt(squaredDistance(x, i, x, j, dim));
    for (let j = 0; j < n; j++) order[j] = j;
    const nearest = Array.from(order).sort((a, b) => row[a]! - row[b]!).slice(0, k);
    neighbours.push(Int32Array.from(nearest));
    kDistance[i] = row[nearest[k - 1]!]!;
  }
  // Local reachability density: inverse mean reachability distance max(k-distance(o), d(p, o)).
  const lrd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const o of neighbours[i]!) sum += Math.max(kDistance[o]!, Math.sqrt(squaredDistance(x, i, x, o, dim)));
    lrd[i] = 1 / (sum / k + 1e-10);
  }
  const lof = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const o of neighbours[i]!) sum += lrd[o]!;
    lof[i] = sum / k / lrd[i]!;
  }
  return lof;
}
