/**
 * The largest eigenpairs of a symmetric positive semi-definite matrix (a covariance), for PCA that
 * keeps a few components of wide features. ml-matrix's full eigendecomposition of a 1,280 × 1,280
 * covariance (MobileNetV2 features) takes ~12 s in JavaScript, and PCA keeps 2 to 50 components;
 * subspace iteration finds those in 0.2 to 4 s and is exact to the tolerance asked:
 *   repeat  Y = A Q;  T = Qᵀ Y;  T = S Λ Sᵀ;  X = Q S (Ritz vectors), A X = Y S;  Q = orth(Y S)
 * until every wanted Ritz pair has ‖A x − λ x‖ ≤ tolerance · λ₁. One product with A per iteration:
 * the Rayleigh–Ritz step reuses Y. The block is wider than the pairs wanted (oversampling), so the
 * convergence rate is λ(block + 1) / λ(wanted), not the gap between neighbours inside the block.
 * Small matrices, blocks that would cover much of the matrix, a zero matrix and the rare run that
 * does not converge go to the full decomposition instead: the answer is the same, only slower.
 * A is row-major (d × d) Float64Array and is read only.
 */
import { EVD, Matrix } from 'ml-matrix';
import { seededRng } from '../data/augment';

export interface TopEigenOptions {
  /** Extra block columns beyond the wanted pairs. Default max(10, wanted). */
  oversample?: number;
  /** Stop when every wanted pair's residual norm is at most this times the largest eigenvalue. Default 1e-10. */
  tolerance?: number;
  /** Iterations before falling back to the full decomposition. Default 500. */
  maxIterations?: number;
  /** Seeds the starting block. Default 0. */
  seed?: number;
  /** Matrices this size or smaller always take the full decomposition. Default 128. */
  fullBelow?: number;
}

export interface TopEigenResult {
  /** The `wanted` largest eigenvalues, largest first (tiny negative rounding clipped to 0). */
  values: number[];
  /** The matching unit eigenvectors, each of length d. */
  vectors: Float64Array[];
  /** Sum of every eigenvalue (the trace), so callers can state explained variance without them all. */
  trace: number;
  method: 'subspace' | 'full';
  /** The full decomposition's every eigenvalue, largest first (absent after subspace iteration). */
  all?: number[];
  iterations: number;
}

/** All eigenpairs by ml-matrix, largest first; `wanted` of them returned. */
function fullDecomposition(a: Float64Array, d: number, wanted: number, trace: number): TopEigenResult {
  const evd = new EVD(Matrix.from1DArray(d, d, a), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((x, y) => values[y]! - values[x]!);
  const all = order.map((i) => Math.max(values[i]!, 0));
  return { values: all.slice(0, wanted), vectors: order.slice(0, wanted).map((i) => Float64Array.from(vectors.getColumn(i))), trace, method: 'full', iterations: 0, all };
}

/** Y = A Q for row-major A (d × d) and Q (d × b). Four rows of A at a time: each row of Q is read once per four. */
function multiply(a: Float64Array, d: number, q: Float64Array, b: number): Float64Array {
  const y = new Float64Array(d * b);
  let i = 0;
  for (; i + 3 < d; i += 4) {
    const y0 = i * b;
    const y1 = y0 + b;
    const y2 = y1 + b;
    const y3 = y2 + b;
    const a0 = i * d;
    for (let j = 0; j < d; j++) {
      const c0 = a[a0 + j]!;
      const c1 = a[a0 + d + j]!;
      const c2 = a[a0 + 2 * d + j]!;
      const c3 = a[a0 + 3 * d + j]!;
      const qj = j * b;
      for (let c = 0; c < b; c++) {
        const v = q[qj + c]!;
        y[y0 + c]! += c0 * v;
        y[y1 + c]! += c1 * v;
        y[y2 + c]! += c2 * v;
        y[y3 + c]! += c3 * v;
      }
    }
  }
  for (; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const aij = a[i * d + j]!;
      for (let c = 0; c < b; c++) y[i * b + c]! += aij * q[j * b + c]!;
    }
  }
  return y;
}

/** Orthonormal columns spanning those of x (d × b, row-major), by Gram–Schmidt applied twice; in place. */
function orthonormalise(x: Float64Array, d: number, b: number, rng: () => number): void {
  const col = (c: number) => {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = x[i * b + c]!;
    return v;
  };
  const cols: Float64Array[] = [];
  for (let c = 0; c < b; c++) {
    let v = col(c);
    for (let attempt = 0; ; attempt++) {
      const before = Math.sqrt(v.reduce((s, t) => s + t * t, 0));
      for (let pass = 0; pass < 2; pass++) {
        for (const u of cols) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += u[i]! * v[i]!;
          for (let i = 0; i < d; i++) v[i]! -= dot * u[i]!;
        }
      }
      const norm = Math.sqrt(v.reduce((s, t) => s + t * t, 0));
      // A column that vanished (the matrix has lower rank than the block) is replaced by a random
      // direction, so the block keeps its width.
      if (norm > 1e-12 * Math.max(before, 1e-300)) {
        for (let i = 0; i < d; i++) v[i]! /= norm;
        break;
      }
      if (attempt > 5) throw new Error('galmorph: could not orthonormalise the eigensolver block');
      v = Float64Array.from({ length: d }, () => rng() - 0.5);
    }
    cols.push(v);
  }
  cols.forEach((v, c) => {
    for (let i = 0; i < d; i++) x[i * b + c] = v[i]!;
  });
}

/** The `wanted` largest eigenpairs of the symmetric positive semi-definite a (d × d). */
export function topEigenpairs(a: Float64Array, d: number, wanted: number, options: TopEigenOptions = {}): TopEigenResult {
  if (a.length !== d * d) throw new Error(`galmorph: a ${d} × ${d} matrix needs ${d * d} values, got ${a.length}`);
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > d) throw new Error(`galmorph: eigenpairs wanted must be an integer from 1 to ${d}, got ${wanted}`);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += a[i * d + i]!;
  const b = Math.min(d, wanted + (options.oversample ?? Math.max(10, wanted)));
  if (d <= (options.fullBelow ?? 128) || 3 * b > d || !(trace > 0)) return fullDecomposition(a, d, wanted, trace);

  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 500;
  const rng = seededRng(options.seed ?? 0);
  const q = Float64Array.from({ length: d * b }, () => rng() - 0.5);
  orthonormalise(q, d, b, rng);
  for (let it = 1; it <= maxIterations; it++) {
    const y = multiply(a, d, q, b);
    // T = Qᵀ Y, symmetrised (it is symmetric up to rounding)
    const qty = new Float64Array(b * b);
    for (let i = 0; i < d; i++) {
      const row = i * b;
      for (let r = 0; r < b; r++) {
        const qr = q[row + r]!;
        const out = r * b;
        for (let c = 0; c < b; c++) qty[out + c]! += qr * y[row + c]!;
      }
    }
    const t = new Matrix(b, b);
    for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) t.set(r, c, (qty[r * b + c]! + qty[c * b + r]!) / 2);
    const evd = new EVD(t, { assumeSymmetric: true });
    const ritz = evd.realEigenvalues;
    const order = ritz.map((_, i) => i).sort((x, z) => ritz[z]! - ritz[x]!);
    // S with its columns in descending Ritz order, row-major b × b
    const s = new Float64Array(b * b);
    const vectorsOfT = evd.eigenvectorMatrix;
    for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) s[r * b + c] = vectorsOfT.get(r, order[c]!);
    // X = Q S and AX = Y S
    const x = new Float64Array(d * b);
    const ax = new Float64Array(d * b);
    for (let i = 0; i < d; i++) {
      const row = i * b;
      for (let r = 0; r < b; r++) {
        const qr = q[row + r]!;
        const yr = y[row + r]!;
        const sr = r * b;
        for (let c = 0; c < b; c++) {
          x[row + c]! += qr * s[sr + c]!;
          ax[row + c]! += yr * s[sr + c]!;
        }
      }
    }
    const top = ritz[order[0]!]!;
    let converged = true;
    for (let c = 0; c < wanted && converged; c++) {
      const lambda = ritz[order[c]!]!;
      let r2 = 0;
      for (let i = 0; i < d; i++) r2 += (ax[i * b + c]! - lambda * x[i * b + c]!) ** 2;
      converged = Math.sqrt(r2) <= tolerance * top;
    }
    if (converged) {
      const vectors = Array.from({ length: wanted }, (_, c) => {
        const v = new Float64Array(d);
        for (let i = 0; i < d; i++) v[i] = x[i * b + c]!;
        const norm = Math.sqrt(v.reduce((sum, t) => sum + t * t, 0));
        for (let i = 0; i < d; i++) v[i]! /= norm;
        return v;
      });
      return { values: order.slice(0, wanted).map((i) => Math.max(ritz[i]!, 0)), vectors, trace, method: 'subspace', iterations: it };
    }
    q.set(ax);
    orthonormalise(q, d, b, rng);
  }
  return fullDecomposition(a, d, wanted, trace);
}
