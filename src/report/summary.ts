/**
 * Every "mean ± std" galmorph reports uses one convention: the mean and the **sample** standard
 * deviation (divisor n − 1, 0 for a single value) of the finite values, over repeats. Tables name
 * the column `std` and give the number of repeats beside it.
 */
import type { Cell, TableRow } from './tables';

export interface Summary {
  mean: number;
  /** Sample standard deviation (n − 1). */
  std: number;
  /** Finite values summarised. */
  n: number;
}

/** Mean and sample standard deviation (n − 1; 0 for one value) of the finite values. */
export function summarise(values: ArrayLike<number>): Summary {
  const v = Array.from(values).filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, n: v.length };
}

/** `0.812 ± 0.034`: a summary's mean and std to `digits` decimals (table cells, captions). */
export function formatMeanStd(s: { mean?: Cell; std?: Cell }, digits = 3): string {
  return `${Number(s.mean).toFixed(digits)} ± ${Number(s.std).toFixed(digits)}`;
}

/**
 * Tidy rows grouped by `keys` (first-seen order), each group's `value` summarised: one row per
 * group with the key columns, `mean`, `std` and `repeats`.
 */
export function summariseBy<T extends object>(rows: T[], keys: (keyof T & string)[], value: (row: T) => number): TableRow[] {
  const groups = new Map<string, T[]>();
  for (const r of rows) {
    const k = JSON.stringify(keys.map((c) => r[c]));
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  return [...groups.values()].map((g) => {
    const s = summarise(g.map(value));
    const out: TableRow = {};
    for (const c of keys) out[c] = g[0]![c] as Cell;
    return { ...out, mean: s.mean, std: s.std, repeats: g.length };
  });
}
