/**
 * PCA of representations, fitted once and reusable on new galaxies. The fit streams: vectors go
 * through `StreamingCovariance` chunk by chunk (double precision), so N galaxies cost O(dim²)
 * memory beyond the Float32Array they already sit in, never an N-row array of arrays; the principal
 * axes are the leading eigenvectors of the dim × dim covariance (or correlation, with `scale`)
 * matrix (topEigenpairs: subspace iteration for a few components of wide features, ml-matrix's full
 * symmetric EVD otherwise). `RepresentationPca.incremental(dim)` takes chunks one at a time
 * (`partialFit`, then `finalize`) for catalogues that never sit in memory whole.
 * `toJSON()` / `load()` (and `writePca` / `readPca`) keep a fitted projection beside the embeddings
 * it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StreamingCovariance } from './covariance';
import { topEigenpairs } from './top-eigen';
import type { Embeddings } from '../data/embeddings';

export interface PcaOptions {
  /** Components to keep. Default 10. */
  components?: number;
  /** Divide each dimension by its standard deviation first (PCA of the correlation matrix). Default false. */
  scale?: boolean;
  /** Rows per chunk when `fit` streams an in-memory set. Default 4096. */
  chunkRows?: number;
}

/** A fitted PCA as stored on disk (`writePca`). */
export interface PcaJson {
  format: 'galmorph-pca';
  version: 1;
  /** Length of the vectors it projects. */
  dim: number;
  /** Components kept by `transform`. */
  components: number;
  /** Galaxies it was fitted on. */
  count: number;
  scale: boolean;
  mean: number[];
  /** Standard deviations divided out when `scale` (1 for constant dimensions), else null. */
  stdevs: number[] | null;
  /** Unit principal axes, [components][dim]. */
  axes: number[][];
  /**
   * The largest eigenvalues of the covariance (or correlation) matrix, largest first: at least the
   * kept ones; every one when the fit took the full decomposition (small dims).
   */
  eigenvalues: number[];
  /** Sum of every eigenvalue (the matrix's trace). Files written before it existed hold every eigenvalue instead. */
  totalVariance?: number;
  /** Fraction of the variance each kept component explains (for people reading the file). */
  explainedVariance: number[];
}

function checkComponents(components: number, dim: number): void {
  if (!Number.isInteger(components) || components < 1 || components > dim) {
    throw new Error(`galmorph: PCA components must be an integer from 1 to ${dim} (the vector length), got ${components}`);
  }
}

/** Streaming PCA fit: `partialFit` chunks of vectors ([rows, dim]), then `finalize`. */
export class PcaAccumulator {
  private readonly stats: StreamingCovariance;

  constructor(readonly dim: number, private readonly options: PcaOptions = {}) {
    checkComponents(options.components ?? 10, dim);
    this.stats = new StreamingCovariance(dim);
  }

  /** Vectors seen so far. */
  get count(): number {
    return this.stats.count;
  }

  partialFit(vectors: Float32Array | Float64Array): this {
    if (vectors.length % this.dim !== 0) throw new Error(`galmorph: PCA expects vectors of length ${this.dim}; got ${vectors.length} numbers`);
    this.stats.add(vectors);
    return this;
  }

  finalize(): RepresentationPca {
    if (this.stats.count < 2) throw new Error(`galmorph: PCA needs at least two galaxies, got ${this.stats.count}`);
    const d = this.dim;
    const components = this.options.components ?? 10;
    const scale = this.options.scale ?? false;
    const cov = this.stats.covariance();
    let stdevs: Float64Array | null = null;
    if (scale) {
      stdevs = new Float64Array(d);
      for (let j = 0; j < d; j++) stdevs[j] = Math.sqrt(cov[j * d + j]!) || 1; // constant dimensions stay as they are (all zero once centred)
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b]! /= stdevs[a]! * stdevs[b]!;
    }
    const top = topEigenpairs(cov, d, components);
    const eigenvalues = top.all ?? top.values;
    const axes = top.vectors.map((axis) => {
      // a fixed sign: the largest entry positive, so refits and chunkings agree
      let big = 0;
      for (let j = 1; j < d; j++) if (Math.abs(axis[j]!) > Math.abs(axis[big]!)) big = j;
      const sign = axis[big]! < 0 ? -1 : 1;
      const norm = Math.sqrt(axis.reduce((s, x) => s + x * x, 0)) || 1;
      return Float64Array.from(axis, (x) => (sign * x) / norm);
    });
    return RepresentationPca.fromParts({ dim: d, components, count: this.stats.count, mean: Float64Array.from(this.stats.mean), stdevs, axes, eigenvalues, totalVariance: top.trace });
  }
}

/** The fitted pieces of a PCA (what `toJSON` stores). */
export interface PcaParts {
  dim: number;
  components: number;
  count: number;
  mean: Float64Array;
  stdevs: Float64Array | null;
  axes: Float64Array[];
  /** The largest eigenvalues (at least the kept ones), largest first. */
  eigenvalues: number[];
  /** Sum of every eigenvalue. */
  totalVariance: number;
}

export class RepresentationPca {
  /** Components kept by `transform`. */
  readonly components: number;
  readonly dim: number;
  /** Galaxies it was fitted on. */
  readonly count: number;

  private constructor(private readonly parts: PcaParts) {
    this.components = parts.components;
    this.dim = parts.dim;
    this.count = parts.count;
  }

  /** A PCA from its fitted pieces (as `PcaAccumulator.finalize` computes them). */
  static fromParts(parts: PcaParts): RepresentationPca {
    return new RepresentationPca(parts);
  }

  /** Fits on a set of embeddings, streaming it in chunks. */
  static fit(e: Embeddings, options: PcaOptions = {}): RepresentationPca {
    checkComponents(options.components ?? 10, e.dim);
    if (e.ids.length < 2) throw new Error(`galmorph: PCA needs at least two galaxies, got ${e.ids.length}`);
    const acc = new PcaAccumulator(e.dim, options);
    const step = (options.chunkRows ?? 4096) * e.dim;
    for (let s = 0; s < e.vectors.length; s += step) acc.partialFit(e.vectors.subarray(s, s + step));
    return acc.finalize();
  }

  /** A streaming fit over vectors of length `dim`: `partialFit(chunk)` as often as needed, then `finalize()`. */
  static incremental(dim: number, options: PcaOptions = {}): PcaAccumulator {
    return new PcaAccumulator(dim, options);
  }

  /** Fraction of the variance each kept component explains. */
  explainedVariance(): number[] {
    const total = this.parts.totalVariance;
    return this.parts.eigenvalues.slice(0, this.components).map((v) => (total > 0 ? v / total : 0));
  }

  /** Unit principal axes, one row per kept component. */
  axes(): number[][] {
    return this.parts.axes.map((a) => Array.from(a));
  }

  /** The mean the vectors are centred on. */
  mean(): number[] {
    return Array.from(this.parts.mean);
  }

  /** Projects vectors ([n, dim], row-major) to [n, components]. */
  transform(vectors: Float32Array): Float32Array {
    const { dim: d, components: k, mean, stdevs, axes } = this.parts;
    if (vectors.length % d !== 0) throw new Error(`galmorph: PCA expects vectors of length ${d}; got ${vectors.length} numbers, not a multiple of ${d}`);
    const n = vectors.length / d;
    const out = new Float32Array(n * k);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) row[j] = stdevs ? (vectors[i * d + j]! - mean[j]!) / stdevs[j]! : vectors[i * d + j]! - mean[j]!;
      for (let c = 0; c < k; c++) {
        const axis = axes[c]!;
        let s = 0;
        for (let j = 0; j < d; j++) s += row[j]! * axis[j]!;
        out[i * k + c] = s;
      }
    }
    return out;
  }

  /** Embeddings in component space (same ids, dim = components). */
  project(e: Embeddings): Embeddings {
    if (e.dim !== this.dim) throw new Error(`galmorph: this PCA projects vectors of length ${this.dim}; the embeddings have ${e.dim}`);
    return { ids: e.ids, vectors: this.transform(e.vectors), dim: this.components };
  }

  toJSON(): PcaJson {
    const p = this.parts;
    return {
      format: 'galmorph-pca',
      version: 1,
      dim: p.dim,
      components: p.components,
      count: p.count,
      scale: p.stdevs !== null,
      mean: Array.from(p.mean),
      stdevs: p.stdevs ? Array.from(p.stdevs) : null,
      axes: this.axes(),
      eigenvalues: [...p.eigenvalues],
      totalVariance: p.totalVariance,
      explainedVariance: this.explainedVariance(),
    };
  }

  static load(json: PcaJson, source = 'PCA JSON'): RepresentationPca {
    if (!json || json.format !== 'galmorph-pca' || json.version !== 1) {
      throw new Error(`galmorph: ${source} is not a galmorph PCA (expected "format": "galmorph-pca", "version": 1, as written by galmorph embed --pca)`);
    }
    const { dim, components } = json;
    checkComponents(components, dim);
    const bad = json.mean.length !== dim || json.axes.length !== components || json.axes.some((a) => a.length !== dim) || (json.stdevs !== null && json.stdevs.length !== dim);
    if (bad) throw new Error(`galmorph: ${source}: mean, stdevs and axes do not match dim ${dim} and ${components} components`);
    return new RepresentationPca({
      dim,
      components,
      count: json.count,
      mean: Float64Array.from(json.mean),
      stdevs: json.stdevs ? Float64Array.from(json.stdevs) : null,
      axes: json.axes.map((a) => Float64Array.from(a)),
      eigenvalues: [...json.eigenvalues],
      totalVariance: json.totalVariance ?? json.eigenvalues.reduce((s, v) => s + v, 0),
    });
  }
}

/** Where `galmorph embed --pca` puts the PCA of an embeddings file: `emb.parquet` → `emb.pca.json`. */
export function pcaFileFor(embeddingsFile: string): string {
  return embeddingsFile.replace(/\.(parquet|arrow|feather)$/i, '') + '.pca.json';
}

export function writePca(file: string, pca: RepresentationPca): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(`${file}.partial`, JSON.stringify(pca.toJSON()) + '\n');
  fs.renameSync(`${file}.partial`, file);
}

export function readPca(file: string): RepresentationPca {
  if (!fs.existsSync(file)) throw new Error(`galmorph: PCA file not found: ${file} (write one with galmorph embed --pca N)`);
  let json: PcaJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as PcaJson;
  } catch (err) {
    throw new Error(`galmorph: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return RepresentationPca.load(json, file);
}

/** Explained variance as one line: `PC1 41.2%, PC2 12.0%, ... (total 71.3%)`. */
export function formatExplainedVariance(pca: RepresentationPca): string {
  const ev = pca.explainedVariance();
  const parts = ev.map((v, i) => `PC${i + 1} ${(100 * v).toFixed(1)}%`);
  return `${parts.join(', ')} (total ${(100 * ev.reduce((s, v) => s + v, 0)).toFixed(1)}%)`;
}
