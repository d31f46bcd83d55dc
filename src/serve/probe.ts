/**
 * "Like these" / "not like these": a linear probe on the representation. L2-regularised logistic
 * regression on standardised PCA components, positives = the galaxies marked "like these",
 * negatives = those marked "not like these" plus every unmarked galaxy at a small weight (a
 * positive-unlabelled fit: one example of a ring and nothing else is enough to rank). Returns a
 * probability-like score per galaxy.
 */

export interface ProbeOptions {
  /** L2 penalty on the weights. Default 1. */
  l2?: number;
  /** Total weight of the unmarked galaxies as negatives, relative to the positives'. Default 1. */
  unlabelledWeight?: number;
  iterations?: number;
}

/**
 * Scores of every row of `features` (n x dim, row-major, e.g. PCA components) under a logistic
 * probe fitted on `positive` and `negative` row indices.
 */
export function linearProbeScores(features: Float64Array, dim: number, positive: number[], negative: number[], options: ProbeOptions = {}): Float64Array {
  const n = features.length / dim;
  if (positive.length === 0) throw new Error('galmorph: mark at least one galaxy as "like these"');
  // standardise each component
  const mean = new Float64Array(dim);
  const sd = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += features[i * dim + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) sd[j]! += (features[i * dim + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < dim; j++) sd[j] = Math.sqrt(sd[j]!) || 1;
  const x = (i: number, j: number) => (features[i * dim + j]! - mean[j]!) / sd[j]!;

  const pos = new Set(positive);
  const neg = new Set(negative.filter((i) => !pos.has(i)));
  const unlabelled = n - pos.size - neg.size;
  const uw = unlabelled > 0 ? ((options.unlabelledWeight ?? 1) * pos.size) / unlabelled : 0;
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (pos.has(i)) {
      weight[i] = 1;
      target[i] = 1;
    } else weight[i] = neg.has(i) ? 1 : uw;
  }
  const l2 = options.l2 ?? 1;
  const w = new Float64Array(dim);
  let b = 0;
  const iterations = options.iterations ?? 300;
  const total = weight.reduce((s, v) => s + v, 0);
  // gradient descent with a step from the data's scale (features are standardised)
  const step = 1 / (0.25 * dim + l2 / total);
  const grad = new Float64Array(dim);
  for (let it = 0; it < iterations; it++) {
    grad.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      if (weight[i] === 0) continue;
      let z = b;
      for (let j = 0; j < dim; j++) z += w[j]! * x(i, j);
      const p = 1 / (1 + Math.exp(-z));
      const r = weight[i]! * (p - target[i]!);
      gb += r;
      for (let j = 0; j < dim; j++) grad[j]! += r * x(i, j);
    }
    for (let j = 0; j < dim; j++) w[j]! -= step * (grad[j]! / total + (l2 / total) * w[j]!);
    b -= step * (gb / total);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = b;
    for (let j = 0; j < dim; j++) z += w[j]! * x(i, j);
    out[i] = 1 / (1 + Math.exp(-z));
  }
  return out;
}
