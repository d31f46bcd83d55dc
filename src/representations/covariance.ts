/**
 * Streaming mean and covariance of vectors, in double precision: each chunk's mean and centred
 * scatter matrix are computed on their own, then merged with the running totals by Chan, Golub &
 * LeVeque's pairwise update (Welford's update, one chunk at a time). Memory is O(dim²) whatever the
 * number of vectors, and the result does not depend on how the vectors are cut into chunks (up to
 * rounding).
 */

export class StreamingCovariance {
  /** Vectors seen so far. */
  count = 0;
  /** Running mean, [dim]. */
  readonly mean: Float64Array;
  /** Σ (x − mean)(x − mean)ᵀ over the vectors seen, [dim, dim] row-major; upper triangle until `covariance()`. */
  private readonly scatter: Float64Array;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`galmorph: covariance needs a positive integer dimension, got ${dim}`);
    this.mean = new Float64Array(dim);
    this.scatter = new Float64Array(dim * dim);
  }

  /** Adds a chunk of vectors ([rows, dim], row-major). */
  add(vectors: Float32Array | Float64Array): this {
    const d = this.dim;
    if (vectors.length % d !== 0) throw new Error(`galmorph: covariance expects vectors of length ${d}; got ${vectors.length} numbers, not a multiple of ${d}`);
    const m = vectors.length / d;
    if (m === 0) return this;
    const mb = new Float64Array(d);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mb[j]! += vectors[i * d + j]!;
    for (let j = 0; j < d; j++) mb[j]! /= m;
    // the chunk's own scatter, upper triangle, from centred rows taken four at a time (a quarter of
    // the passes over the d × d accumulator)
    const sb = new Float64Array(d * d);
    const r0 = new Float64Array(d);
    const r1 = new Float64Array(d);
    const r2 = new Float64Array(d);
    const r3 = new Float64Array(d);
    const rows = [r0, r1, r2, r3];
    for (let i = 0; i < m; i += 4) {
      for (let t = 0; t < 4; t++) {
        const r = rows[t]!;
        if (i + t < m) for (let j = 0; j < d; j++) r[j] = vectors[(i + t) * d + j]! - mb[j]!;
        else r.fill(0);
      }
      for (let a = 0; a < d; a++) {
        const a0 = r0[a]!;
        const a1 = r1[a]!;
        const a2 = r2[a]!;
        const a3 = r3[a]!;
        const off = a * d;
        for (let b = a; b < d; b++) sb[off + b]! += a0 * r0[b]! + a1 * r1[b]! + a2 * r2[b]! + a3 * r3[b]!;
      }
    }
    this.merge(m, mb, sb);
    return this;
  }

  /** Merges the statistics of another accumulator over different vectors. */
  addStatistics(other: StreamingCovariance): this {
    if (other.dim !== this.dim) throw new Error(`galmorph: cannot merge covariances of dimensions ${this.dim} and ${other.dim}`);
    if (other.count > 0) this.merge(other.count, other.mean, other.scatter);
    return this;
  }

  private merge(nb: number, mb: Float64Array, sb: Float64Array): void {
    const d = this.dim;
    const na = this.count;
    const n = na + nb;
    const delta = new Float64Array(d);
    for (let j = 0; j < d; j++) delta[j] = mb[j]! - this.mean[j]!;
    const w = (na * nb) / n;
    for (let a = 0; a < d; a++) {
      const off = a * d;
      const da = delta[a]! * w;
      for (let b = a; b < d; b++) this.scatter[off + b]! += sb[off + b]! + da * delta[b]!;
    }
    for (let j = 0; j < d; j++) this.mean[j]! += (delta[j]! * nb) / n;
    this.count = n;
  }

  /** Sample covariance (divided by count − 1), [dim, dim] row-major, symmetric. */
  covariance(): Float64Array {
    if (this.count < 2) throw new Error(`galmorph: a covariance needs at least two vectors, got ${this.count}`);
    const d = this.dim;
    const c = new Float64Array(d * d);
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        const v = this.scatter[a * d + b]! / (this.count - 1);
        c[a * d + b] = v;
        c[b * d + a] = v;
      }
    }
    return c;
  }
}
