/**
 * PCA of representations, fitted once and reusable on new galaxies (ml-pca: the covariance-matrix
 * method, O(n·d²), fine for a few hundred thousand galaxies at d ≤ 1280). `toJSON()` / `load()`
 * keep a fitted projection beside the embeddings it came from.
 */
import { PCA } from 'ml-pca';
import type { Embeddings } from './embed';

export interface PcaOptions {
  /** Components to keep. Default 10. */
  components?: number;
  /** Divide each dimension by its standard deviation first. Default false. */
  scale?: boolean;
}

function rows(vectors: Float32Array, dim: number): number[][] {
  return Array.from({ length: vectors.length / dim }, (_, i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim)));
}

export class RepresentationPca {
  private constructor(
    private readonly pca: PCA,
    /** Components kept by `transform`. */
    readonly components: number,
    readonly dim: number,
  ) {}

  static fit(e: Embeddings, options: PcaOptions = {}): RepresentationPca {
    const components = options.components ?? 10;
    if (!Number.isInteger(components) || components < 1 || components > e.dim) {
      throw new Error(`galmorph: PCA components must be an integer from 1 to ${e.dim} (the vector length), got ${components}`);
    }
    if (e.ids.length < 2) throw new Error('galmorph: PCA needs at least two galaxies');
    const pca = new PCA(rows(e.vectors, e.dim), { method: 'covarianceMatrix', center: true, scale: options.scale ?? false, ignoreZeroVariance: true });
    return new RepresentationPca(pca, components, e.dim);
  }

  /** Fraction of the variance each kept component explains. */
  explainedVariance(): number[] {
    return this.pca.getExplainedVariance().slice(0, this.components);
  }

  /** Unit principal axes, one row per kept component. */
  axes(): number[][] {
    const loadings = this.pca.getLoadings().to2DArray();
    return loadings.slice(0, this.components);
  }

  /** Projects vectors ([n, dim], row-major) to [n, components]. */
  transform(vectors: Float32Array): Float32Array {
    if (vectors.length % this.dim !== 0) throw new Error(`galmorph: PCA expects vectors of length ${this.dim}`);
    const projected = this.pca.predict(rows(vectors, this.dim), { nComponents: this.components }).to2DArray();
    return Float32Array.from(projected.flat());
  }

  toJSON(): { components: number; dim: number; model: ReturnType<PCA['toJSON']> } {
    return { components: this.components, dim: this.dim, model: this.pca.toJSON() };
  }

  static load(json: { components: number; dim: number; model: ReturnType<PCA['toJSON']> }): RepresentationPca {
    return new RepresentationPca(PCA.load(json.model), json.components, json.dim);
  }
}
