/**
 * Expected improvement, the paper's acquisition function (modAL's `max_EI`): how much a galaxy's
 * score is expected to exceed the best score seen so far plus a trade-off ξ, under the Gaussian
 * process's predictive distribution. Larger ξ favours exploring uncertain galaxies.
 *
 *   z = (μ - best - ξ) / σ,   EI = (μ - best - ξ) Φ(z) + σ φ(z)
 */

/** Standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal cumulative distribution, through erfc (Chebyshev fit, relative error < 1.2e-7). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Expected improvement of each candidate over `best` (the highest score labelled so far). */
export function expectedImprovement(mean: ArrayLike<number>, std: ArrayLike<number>, best: number, tradeoff = 0): Float64Array {
  if (mean.length !== std.length) throw new Error(`galmorph: ${mean.length} means but ${std.length} standard deviations`);
  const out = new Float64Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const gain = mean[i]! - best - tradeoff;
    const s = std[i]!;
    if (s <= 0) {
      out[i] = Math.max(gain, 0);
      continue;
    }
    const z = gain / s;
    out[i] = gain * normalCdf(z) + s * normalPdf(z);
  }
  return out;
}

/** Indices of the k largest values, largest first (ties by index). */
export function topK(values: ArrayLike<number>, k: number, candidates?: number[]): number[] {
  const pool = candidates ?? Array.from({ length: values.length }, (_, i) => i);
  return pool
    .slice()
    .sort((a, b) => values[b]! - values[a]! || a - b)
    .slice(0, k);
}
