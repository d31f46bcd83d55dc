/**
 * Nelder-Mead simplex minimisation. The Gaussian process has four hyperparameters, optimised in log
 * space; a derivative-free simplex is robust there and needs no gradient code to get wrong.
 */
export interface NelderMeadOptions {
  /** Most function evaluations. Default 400. */
  maxEvaluations?: number;
  /** Stop when the simplex's values differ by less than this. Default 1e-7. */
  tolerance?: number;
  /** Initial simplex step along each axis. Default 0.5. */
  step?: number;
}

export interface Minimum {
  x: number[];
  value: number;
  evaluations: number;
}

export function nelderMead(f: (x: number[]) => number, start: number[], options: NelderMeadOptions = {}): Minimum {
  const maxEvaluations = options.maxEvaluations ?? 400;
  const tolerance = options.tolerance ?? 1e-7;
  const step = options.step ?? 0.5;
  const n = start.length;
  let evaluations = 0;
  const evaluate = (x: number[]) => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  let simplex = [start.slice(), ...start.map((_, i) => start.map((v, j) => (i === j ? v + step : v)))];
  let values = simplex.map(evaluate);
  while (evaluations < maxEvaluations) {
    const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
    simplex = order.map((i) => simplex[i]!);
    values = order.map((i) => values[i]!);
    if (Math.abs(values[n]! - values[0]!) < tolerance) break;
    const centroid = start.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p[j]!, 0) / n);
    const along = (t: number) => centroid.map((c, j) => c + t * (simplex[n]![j]! - c));
    const reflected = along(-1);
    const fr = evaluate(reflected);
    if (fr < values[0]!) {
      const expanded = along(-2);
      const fe = evaluate(expanded);
      [simplex[n], values[n]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[n - 1]!) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = fr < values[n]! ? along(-0.5) : along(0.5);
      const fc = evaluate(contracted);
      if (fc < Math.min(fr, values[n]!)) {
        [simplex[n], values[n]] = [contracted, fc];
      } else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i]!.map((v, j) => simplex[0]![j]! + 0.5 * (v - simplex[0]![j]!));
          values[i] = evaluate(simplex[i]!);
        }
      }
    }
  }
  const best = values.indexOf(Math.min(...values));
  return { x: simplex[best]!, value: values[best]!, evaluations };
}
