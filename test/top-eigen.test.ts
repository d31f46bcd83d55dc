import { strict as assert } from 'node:assert';
import { Matrix, QrDecomposition } from 'ml-matrix';
import { PCA } from 'ml-pca';
import { seededRng } from '../src/data/augment';
import { RepresentationPca } from '../src/representations/pca';
import { topEigenpairs } from '../src/representations/top-eigen';

/** A random orthogonal d × d matrix (Q of a QR decomposition of seeded uniform noise). */
function randomOrthogonal(d: number, seed: number): Matrix {
  const rng = seededRng(seed);
  return new QrDecomposition(Matrix.from1DArray(d, d, Array.from({ length: d * d }, () => rng() - 0.5))).orthogonalMatrix;
}

/** U diag(values) Uᵀ as a row-major Float64Array. */
function withSpectrum(u: Matrix, values: number[]): Float64Array {
  const d = values.length;
  const a = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    if (values[k] === 0) continue;
    const col = u.getColumn(k);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j]! += values[k]! * col[i]! * col[j]!;
  }
  return a;
}

const dot = (u: ArrayLike<number>, v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i]! * v[i]!;
  return s;
};

describe('largest eigenpairs (subspace iteration) for PCA of wide features', () => {
  it('finds the largest eigenpairs of a matrix built from a known spectrum, rank-deficient, to rounding', () => {
    const d = 300;
    const u = randomOrthogonal(d, 1);
    // a decaying spectrum, zero beyond rank 200 (fewer galaxies than dimensions)
    const values = Array.from({ length: d }, (_, k) => (k < 200 ? 50 * 0.9 ** k + 0.01 : 0));
    const a = withSpectrum(u, values);
    const top = topEigenpairs(a, d, 10);
    assert.equal(top.method, 'subspace');
    assert.equal(top.all, undefined);
    assert.ok(Math.abs(top.trace - values.reduce((s, v) => s + v, 0)) < 1e-9 * top.trace);
    top.values.forEach((v, k) => assert.ok(Math.abs(v - values[k]!) < 1e-9 * values[0]!, `eigenvalue ${k}: ${v}, built with ${values[k]}`));
    top.vectors.forEach((v, k) => {
      assert.ok(Math.abs(dot(v, v) - 1) < 1e-12, `vector ${k} has unit length`);
      assert.ok(1 - Math.abs(dot(v, u.getColumn(k))) < 1e-10, `vector ${k} is the built eigenvector (up to sign)`);
    });
  });

  it('a repeated eigenvalue among the wanted ones: the pair spans the built plane', () => {
    const d = 200;
    const u = randomOrthogonal(d, 2);
    const values = Array.from({ length: d }, (_, k) => (k < 2 ? 40 - 10 * k : k < 4 ? 20 : 15 * 0.85 ** (k - 4)));
    const top = topEigenpairs(withSpectrum(u, values), d, 5);
    assert.equal(top.method, 'subspace');
    assert.ok(Math.abs(top.values[2]! - 20) < 1e-9 && Math.abs(top.values[3]! - 20) < 1e-9);
    // each found vector of the pair lies in span(u2, u3)
    for (const v of [top.vectors[2]!, top.vectors[3]!]) {
      const inPlane = dot(v, u.getColumn(2)) ** 2 + dot(v, u.getColumn(3)) ** 2;
      assert.ok(Math.abs(inPlane - 1) < 1e-10, `in the plane: ${inPlane}`);
    }
    assert.ok(Math.abs(dot(top.vectors[2]!, top.vectors[3]!)) < 1e-10);
  });

  it('small matrices, blocks covering much of the matrix and a zero matrix take the full decomposition', () => {
    const u = randomOrthogonal(40, 3);
    const values = Array.from({ length: 40 }, (_, k) => 40 - k);
    const small = topEigenpairs(withSpectrum(u, values), 40, 3);
    assert.equal(small.method, 'full');
    assert.equal(small.all!.length, 40);
    small.all!.forEach((v, k) => assert.ok(Math.abs(v - values[k]!) < 1e-9));
    const wide = topEigenpairs(withSpectrum(randomOrthogonal(150, 4), Array.from({ length: 150 }, (_, k) => 150 - k)), 150, 60);
    assert.equal(wide.method, 'full');
    const zero = topEigenpairs(new Float64Array(200 * 200), 200, 2);
    assert.equal(zero.method, 'full');
    assert.deepEqual(zero.values, [0, 0]);
    assert.throws(() => topEigenpairs(new Float64Array(9), 3, 4), /eigenpairs wanted must be an integer from 1 to 3, got 4/);
    assert.throws(() => topEigenpairs(new Float64Array(8), 3, 1), /a 3 × 3 matrix needs 9 values, got 8/);
  });

  it('PCA of features wider than the galaxies agrees with ml-pca (SVD), scaled or not, and its JSON states the total variance', () => {
    // 250 galaxies, 300 dimensions: 12 latent factors mixed in, plus noise
    const n = 250;
    const d = 300;
    const rng = seededRng(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    const mix = Array.from({ length: 12 * d }, () => gauss());
    const vectors = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: 12 }, (_, f) => gauss() * (12 - f));
      for (let j = 0; j < d; j++) {
        let s = 3 + 0.3 * gauss() * (1 + (j % 7));
        for (let f = 0; f < 12; f++) s += z[f]! * mix[f * d + j]!;
        vectors[i * d + j] = s;
      }
    }
    const rows = Array.from({ length: n }, (_, i) => Array.from(vectors.subarray(i * d, (i + 1) * d)));
    const e = { ids: rows.map((_, i) => `g${i}`), vectors, dim: d };
    for (const scale of [false, true]) {
      const pca = RepresentationPca.fit(e, { components: 6, scale });
      const reference = new PCA(rows, { method: 'SVD', center: true, scale });
      const refVar = reference.getExplainedVariance();
      pca.explainedVariance().forEach((v, k) => assert.ok(Math.abs(v - refVar[k]!) < 1e-9, `scale ${scale}: component ${k} explains ${v}, ml-pca says ${refVar[k]}`));
      const refAxes = reference.getLoadings().to2DArray();
      pca.axes().forEach((axis, k) => assert.ok(1 - Math.abs(dot(axis, refAxes[k]!)) < 1e-9, `scale ${scale}: axis ${k}`));
      const json = pca.toJSON();
      assert.equal(json.eigenvalues.length, 6, 'only the components it computed');
      const again = RepresentationPca.load(JSON.parse(JSON.stringify(json)));
      assert.deepEqual(again.explainedVariance(), pca.explainedVariance());
    }
  });

  it('more components than galaxies: the extra axes are orthonormal directions of no variance', () => {
    // 6 galaxies in 200 dimensions: rank 5 once centred; 8 components asked for
    const rng = seededRng(7);
    const vectors = Float32Array.from({ length: 6 * 200 }, () => rng() * 4 - 2);
    const e = { ids: Array.from({ length: 6 }, (_, i) => `g${i}`), vectors, dim: 200 };
    const pca = RepresentationPca.fit(e, { components: 8 });
    assert.equal(pca.toJSON().eigenvalues.length, 8, 'the subspace path');
    const full = new PCA(Array.from({ length: 6 }, (_, i) => Array.from(vectors.subarray(i * 200, (i + 1) * 200))), { method: 'SVD', center: true });
    const ev = pca.explainedVariance();
    full.getExplainedVariance().slice(0, 5).forEach((v, k) => assert.ok(Math.abs(ev[k]! - v) < 1e-9, `component ${k}`));
    ev.slice(5).forEach((v) => assert.ok(v < 1e-12, `no variance left: ${v}`));
    const axes = pca.axes();
    axes.forEach((u, i) => axes.forEach((v, j) => assert.ok(Math.abs(dot(u, v) - (i === j ? 1 : 0)) < 1e-9, `axes ${i}, ${j}`)));
  });

  it('a PCA file written before totalVariance existed (every eigenvalue, no total) still explains its variance', () => {
    const rng = seededRng(6);
    const vectors = Float32Array.from({ length: 60 * 5 }, (_, k) => (k % 5) * rng());
    const pca = RepresentationPca.fit({ ids: Array.from({ length: 60 }, (_, i) => `g${i}`), vectors, dim: 5 }, { components: 2 });
    const json = pca.toJSON();
    assert.equal(json.eigenvalues.length, 5, 'a small fit keeps every eigenvalue');
    delete json.totalVariance;
    const old = RepresentationPca.load(json);
    old.explainedVariance().forEach((v, k) => assert.ok(Math.abs(v - pca.explainedVariance()[k]!) < 1e-12));
  });
});
