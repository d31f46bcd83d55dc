import { strict as assert } from 'node:assert';
import { seededRng } from '../src/data/augment';
import { Matrix, SVD } from 'ml-matrix';
import { PCA } from 'ml-pca';
import { pcaFileFor, readPca, RepresentationPca, writePca } from '../src/representations/pca';
import { similar } from '../src/similarity/search';
import { averagePrecision, evaluateRandom, evaluateTag } from '../src/similarity/evaluate';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeEmbeddings } from '../src/data/embeddings';
import { projectRoot } from '../src/paths';
import { tempDir } from './support/fixtures';

/** Embeddings from a seeded generator: `n` points, `dim` dimensions, per-dimension scales. */
function synthetic(n: number, scales: number[], seed: number) {
  const rng = seededRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const dim = scales.length;
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) vectors[i * dim + j] = 5 + scales[j]! * gauss();
  return { ids: Array.from({ length: n }, (_, i) => `g${i}`), vectors, dim };
}

describe('PCA and similarity search', () => {
  it('PCA axes are eigenvectors of the sample covariance, computed independently, with matching variances', () => {
    const e = synthetic(400, [3, 0.5, 2, 1, 0.2], 1);
    const pca = RepresentationPca.fit(e, { components: 3 });
    // sample covariance in double precision
    const n = e.ids.length;
    const d = e.dim;
    const mean = Array.from({ length: d }, (_, j) => Array.from({ length: n }, (_, i) => e.vectors[i * d + j]!).reduce((a, b) => a + b) / n);
    const cov = Array.from({ length: d }, (_, a) =>
      Array.from({ length: d }, (_, b) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += (e.vectors[i * d + a]! - mean[a]!) * (e.vectors[i * d + b]! - mean[b]!);
        return s / (n - 1);
      }),
    );
    const trace = cov.reduce((s, row, i) => s + row[i]!, 0);
    const ev = pca.explainedVariance();
    pca.axes().forEach((v, k) => {
      const cv = cov.map((row) => row.reduce((s, c, j) => s + c * v[j]!, 0));
      const lambda = cv.reduce((s, x, j) => s + x * v[j]!, 0);
      cv.forEach((x, j) => assert.ok(Math.abs(x - lambda * v[j]!) < 1e-6 * trace, `axis ${k} is an eigenvector`));
      assert.ok(Math.abs(lambda / trace - ev[k]!) < 1e-9, `component ${k} explains ${ev[k]} of the variance, covariance says ${lambda / trace}`);
    });
    assert.ok(ev[0]! > ev[1]! && ev[1]! > ev[2]!);
    // the largest axis is the first dimension (scale 3), the second the third (scale 2)
    assert.ok(Math.abs(pca.axes()[0]![0]!) > 0.99 && Math.abs(pca.axes()[1]![2]!) > 0.99);
  });

  it('the streaming PCA fit agrees with ml-pca and with an SVD of the centred matrix, in one chunk or many', () => {
    // correlated dimensions: a random mixing of independent scales
    const base = synthetic(700, [4, 3, 2, 1.5, 1, 0.7, 0.4, 0.2], 11);
    const d = base.dim;
    const rng = seededRng(12);
    const mix = Array.from({ length: d * d }, () => rng() - 0.5);
    const vectors = new Float32Array(base.vectors.length);
    for (let i = 0; i < 700; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) vectors[i * d + a]! += mix[a * d + b]! * (base.vectors[i * d + b]! - 5) + (a === 0 ? 100 : 0);
    const e = { ids: base.ids, vectors, dim: d };
    const rows = Array.from({ length: 700 }, (_, i) => Array.from(vectors.subarray(i * d, (i + 1) * d)));
    const sameUpToSign = (u: number[], v: number[], tol: number, what: string) => {
      const dot = u.reduce((s, x, j) => s + x * v[j]!, 0);
      u.forEach((x, j) => assert.ok(Math.abs(x - Math.sign(dot) * v[j]!) < tol, `${what}: ${u} against ${v}`));
    };
    for (const scale of [false, true]) {
      const pca = RepresentationPca.fit(e, { components: 5, scale });
      const reference = new PCA(rows, { method: 'SVD', center: true, scale });
      const refVar = reference.getExplainedVariance().slice(0, 5);
      pca.explainedVariance().forEach((v, k) => assert.ok(Math.abs(v - refVar[k]!) < 1e-9, `scale ${scale}: component ${k} explains ${v}, ml-pca says ${refVar[k]}`));
      const refAxes = reference.getLoadings().to2DArray();
      pca.axes().forEach((axis, k) => sameUpToSign(axis, refAxes[k]!, 1e-6, `scale ${scale}: axis ${k}`));
      // the projections agree up to each component's sign
      const mine = pca.transform(vectors.subarray(0, 3 * d));
      const theirs = reference.predict(rows.slice(0, 3), { nComponents: 5 }).to2DArray();
      for (let c = 0; c < 5; c++) sameUpToSign([0, 1, 2].map((i) => mine[i * 5 + c]!), theirs.map((r) => r[c]!), 1e-3, `scale ${scale}: projection on ${c}`);
    }
    // and an SVD of the centred data matrix, computed here with ml-matrix
    const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
    const svd = new SVD(new Matrix(rows.map((r) => r.map((x, j) => x - mean[j]!))), { computeLeftSingularVectors: false });
    const s2 = svd.diagonal.map((x) => x * x);
    const total = s2.reduce((a, b) => a + b, 0);
    const oneShot = RepresentationPca.fit(e, { components: 4 });
    oneShot.explainedVariance().forEach((v, k) => assert.ok(Math.abs(v - s2[k]! / total) < 1e-9));
    oneShot.axes().forEach((axis, k) => sameUpToSign(axis, svd.rightSingularVectors.getColumn(k), 1e-6, `SVD axis ${k}`));
    // chunked fits: uneven chunks through partialFit, and fit's own chunking, give the same PCA
    const acc = RepresentationPca.incremental(d, { components: 4 });
    for (const [s, t] of [[0, 1], [1, 7], [7, 300], [300, 301], [301, 700]] as const) acc.partialFit(vectors.subarray(s * d, t * d));
    assert.equal(acc.count, 700);
    for (const chunked of [acc.finalize(), RepresentationPca.fit(e, { components: 4, chunkRows: 33 })]) {
      chunked.explainedVariance().forEach((v, k) => assert.ok(Math.abs(v - oneShot.explainedVariance()[k]!) < 1e-12));
      chunked.axes().forEach((axis, k) => axis.forEach((x, j) => assert.ok(Math.abs(x - oneShot.axes()[k]![j]!) < 1e-9, 'same axes, same signs')));
      chunked.mean().forEach((m, j) => assert.ok(Math.abs(m - mean[j]!) < 1e-9));
    }
    assert.throws(() => RepresentationPca.incremental(d, { components: 2 }).partialFit(vectors.subarray(0, d)).finalize(), /PCA needs at least two galaxies, got 1/);
    assert.throws(() => RepresentationPca.incremental(d, { components: 2 }).partialFit(new Float32Array(d + 1)), /vectors of length 8/);
  });

  it('a fitted PCA saved with toJSON and loaded again projects new galaxies identically', () => {
    const pca = RepresentationPca.fit(synthetic(50, [1, 2, 3, 4], 2), { components: 2 });
    const fresh = synthetic(5, [1, 1, 1, 1], 3).vectors;
    const again = RepresentationPca.load(JSON.parse(JSON.stringify(pca.toJSON())));
    assert.deepEqual(Array.from(again.transform(fresh)), Array.from(pca.transform(fresh)));
    assert.equal(pca.transform(fresh).length, 5 * 2);
    assert.throws(() => RepresentationPca.fit(synthetic(10, [1, 1], 4), { components: 3 }), /components must be an integer from 1 to 2/);
    // on disk beside the embeddings, with its explained variance
    const dir = tempDir();
    const file = pcaFileFor(path.join(dir, 'emb.parquet'));
    assert.equal(path.basename(file), 'emb.pca.json');
    writePca(file, pca);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(stored.explainedVariance, pca.explainedVariance());
    assert.equal(stored.count, 50);
    assert.deepEqual(Array.from(readPca(file).transform(fresh)), Array.from(pca.transform(fresh)));
    fs.writeFileSync(path.join(dir, 'other.json'), '{"name": "PCA"}');
    assert.throws(() => readPca(path.join(dir, 'other.json')), /other\.json is not a galmorph PCA/);
    assert.throws(() => readPca(path.join(dir, 'none.json')), /PCA file not found: .*none\.json/);
  });

  it('exact search keeps the k nearest without a full sort, ties in row order', () => {
    const e = synthetic(500, [1, 2, 1, 0.5], 9);
    e.vectors.set(e.vectors.subarray(0, 4), 7 * 4); // row 7 duplicates row 0
    e.vectors.set(e.vectors.subarray(0, 4), 3 * 4); // and so does row 3
    for (const metric of ['cosine', 'euclidean'] as const) {
      const all = similar(e, 'g0', { k: 499, metric });
      const few = similar(e, 'g0', { k: 10, metric });
      assert.deepEqual(few, all.slice(0, 10));
      assert.deepEqual(few.slice(0, 2).map((n) => n.id), ['g3', 'g7']);
    }
  });

  it('finds the galaxies of the query\'s own group, cosine ignoring length and euclidean not', () => {
    // three directions; each galaxy is one of them at some length, plus a little noise
    const dirs = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    const rng = seededRng(5);
    const ids: string[] = [];
    const vectors: number[] = [];
    for (let i = 0; i < 30; i++) {
      const g = i % 3;
      const len = 1 + 9 * rng();
      ids.push(`${g}-${i}`);
      vectors.push(...dirs[g]!.map((x) => x * len + 0.01 * rng()));
    }
    const e = { ids, vectors: Float32Array.from(vectors), dim: 3 };
    const cos = similar(e, '0-0', { k: 9, metric: 'cosine' });
    assert.equal(cos.length, 9);
    assert.ok(cos.every((nb) => nb.id.startsWith('0-')), 'cosine: all of group 0');
    assert.deepEqual(cos.map((nb) => nb.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(cos.every((nb, i) => i === 0 || nb.distance >= cos[i - 1]!.distance));
    assert.ok(!cos.some((nb) => nb.id === '0-0'), 'the query itself is left out');
    // a short query: a long galaxy of its own direction is far in euclidean terms, a short one of
    // another direction is near
    const pair = { ids: ['q', 'same-direction-long', 'other-direction-short'], vectors: Float32Array.from([1, 0, 0, 10, 0, 0, 0, 1, 0]), dim: 3 };
    assert.equal(similar(pair, 'q', { k: 1, metric: 'cosine' })[0]!.id, 'same-direction-long');
    assert.equal(similar(pair, 'q', { k: 1, metric: 'euclidean' })[0]!.id, 'other-direction-short');
    assert.throws(() => similar(e, 'nope'), /galaxy 'nope' is not among the 30 embedded galaxies/);
    assert.throws(() => similar(e, '0-0', { metric: 'manhattan' as never }), /unknown metric 'manhattan'. Valid choices: cosine, euclidean/);
  });
});

describe('galmorph similar', () => {
  it('prints and writes the ranked neighbours, and names a missing query id', () => {
    const dir = tempDir();
    const file = path.join(dir, 'emb.parquet');
    writeEmbeddings(file, { ids: ['a', 'b', 'c', 'd'], vectors: Float32Array.from([1, 0, 0.9, 0.1, 0, 1, -1, 0]), dim: 2 });
    const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
    const out = path.join(dir, 'n.csv');
    const r = spawnSync(process.execPath, [bin, 'similar', '--embeddings', file, '--query', 'a', '--k', '2', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /neighbours of a \(cosine\):\n\s+1\s+b\s+0\.00\d+\n\s+2\s+c\s+1\.00000/);
    assert.equal(fs.readFileSync(out, 'utf8').split('\n')[0], 'rank,id,distance');
    const bad = spawnSync(process.execPath, [bin, 'similar', '--embeddings', file, '--query', 'zz'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /^galmorph: galaxy 'zz' is not among the 4 embedded galaxies/);
  });
});

describe('similarity evaluation', () => {
  it('average precision and precision@k match hand-computed values', () => {
    // relevant at ranks 1, 3 and 6: AP = (1/1 + 2/3 + 3/6) / 3
    assert.ok(Math.abs(averagePrecision([true, false, true, false, false, true]) - (1 + 2 / 3 + 0.5) / 3) < 1e-12);
    assert.equal(averagePrecision([false, false]), 0);
    // two tight clusters on a line: a tagged galaxy's neighbours are the other tagged ones
    const e = { ids: ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'], vectors: Float32Array.from([0, 0.1, 0.2, 10, 10.1, 10.2].flatMap((x) => [x, 1])), dim: 2 };
    const s = evaluateTag(e, new Set(['a1', 'a2', 'a3']), { metric: 'euclidean', maxK: 3 });
    assert.deepEqual(s.precision, [1, 1, 2 / 3]);
    assert.equal(s.map, 1);
    assert.equal(s.queries, 3);
    const r = evaluateRandom(e.ids, new Set(['a1', 'a2', 'a3']), { maxK: 5, seed: 1 });
    assert.ok(Math.abs(r.precision[4]! - 2 / 5) < 1e-12, 'at k = n−1 every ranking holds both other tagged galaxies');
  });

  it('fits the PCA once for several tags on the same embeddings, and afresh when their vectors change', () => {
    const e = synthetic(300, [3, 0.5, 2, 1, 0.2, 1.5], 4);
    const tags = [new Set(e.ids.slice(0, 40)), new Set(e.ids.filter((_, i) => i % 9 === 0))];
    const fresh = () => ({ ...e, vectors: Float32Array.from(e.vectors) }); // a new object: nothing remembered
    const options = { pca: 3, scale: true, maxK: 5 };
    let fits = 0;
    const fit = RepresentationPca.fit;
    RepresentationPca.fit = (...args: Parameters<typeof fit>) => (fits++, fit.apply(RepresentationPca, args));
    try {
      for (const tag of tags) assert.deepEqual(evaluateTag(e, tag, options), evaluateTag(fresh(), tag, options));
      assert.equal(fits, 3, 'one fit for the two tags on e, one for each fresh copy');
      for (let i = 0; i < e.vectors.length; i += 6) e.vectors[i] = -e.vectors[i]!; // changed in place
      assert.deepEqual(evaluateTag(e, tags[1]!, options), evaluateTag(fresh(), tags[1]!, options));
      assert.equal(fits, 5, 'changed vectors are projected afresh');
    } finally {
      RepresentationPca.fit = fit;
    }
  });
});
