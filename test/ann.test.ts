import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRng } from '../src/data/augment';
import { projectRoot } from '../src/paths';
import { Embeddings, writeEmbeddings } from '../src/data/embeddings';
import { RepresentationPca, writePca } from '../src/representations/pca';
import { HnswIndex } from '../src/similarity/ann';
import { similar } from '../src/similarity/search';
import { tempDir } from './support/fixtures';

/** n galaxies in `dim` dimensions from a seeded mixture of 30 Gaussians (clustered, as representations are). */
function clustered(n: number, dim: number, seed: number): Embeddings {
  const rng = seededRng(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const centres = Array.from({ length: 30 }, () => Array.from({ length: dim }, () => 3 * g()));
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rng() * 30)]!;
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = c[j]! + g();
  }
  return { ids: Array.from({ length: n }, (_, i) => `g${i}`), vectors, dim };
}

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
const galmorph = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('approximate search (HNSW)', function () {
  this.timeout(120_000);
  const e = clustered(3000, 24, 1);
  const queries = Array.from({ length: 150 }, (_, i) => `g${i * 20}`);

  for (const metric of ['cosine', 'euclidean'] as const) {
    it(`${metric}: recall@10 against exact search is high, with the exact search's distances`, () => {
      const index = HnswIndex.build(e, { metric });
      const recall = (ef: number) => {
        let found = 0;
        for (const q of queries) {
          const exact = similar(e, q, { k: 10, metric });
          const approx = index.similar(q, { k: 10, ef });
          assert.equal(approx.length, 10);
          assert.ok(!approx.some((n) => n.id === q), 'the query is left out');
          assert.deepEqual(approx.map((n) => n.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
          const exactDistance = new Map(exact.map((n) => [n.id, n.distance]));
          for (const n of approx) {
            const d = exactDistance.get(n.id);
            if (d === undefined) continue;
            found++;
            assert.ok(Math.abs(n.distance - d) < 1e-4 * Math.max(1, d), `${metric} distance of ${n.id}: ${n.distance} against exact ${d}`);
          }
        }
        return found / (10 * queries.length);
      };
      const high = recall(100);
      assert.ok(high >= 0.99, `recall@10 at ef 100 is ${high}`);
      assert.ok(recall(10) <= high + 1e-12, 'a narrower search finds no more');
    });
  }

  it('a saved index loads and gives the same answers; other embeddings are refused', () => {
    const dir = tempDir();
    const file = path.join(dir, 'emb.hnsw');
    const pca = RepresentationPca.fit(e, { components: 8, scale: true });
    const index = HnswIndex.build(e, { metric: 'euclidean', pca, m: 8, efConstruction: 100 });
    index.save(file);
    assert.ok(fs.existsSync(file) && fs.existsSync(`${file}.json`));
    const again = HnswIndex.load(file, e);
    assert.equal(again.metric, 'euclidean');
    assert.deepEqual(again.parameters, { m: 8, efConstruction: 100, seed: 100 });
    assert.deepEqual(again.pca!.axes(), pca.axes());
    for (const q of queries.slice(0, 40)) assert.deepEqual(again.similar(q, { k: 10, ef: 50 }), index.similar(q, { k: 10, ef: 50 }));
    // the index compares on the PCA components: its neighbours are (mostly) the exact ones there
    const exact = similar(e, 'g0', { k: 10, metric: 'euclidean', pca }).map((n) => n.id);
    assert.ok(again.similar('g0', { k: 10 }).filter((n) => exact.includes(n.id)).length >= 9);

    const changed = { ...e, vectors: Float32Array.from(e.vectors, (v, i) => (i === 5 ? v + 1 : v)) };
    assert.throws(() => HnswIndex.load(file, changed, 'changed.parquet'), /the index .*emb\.hnsw was built from other embeddings than changed\.parquet/);
    assert.throws(() => HnswIndex.load(path.join(dir, 'none.hnsw'), e), /HNSW index not found: .*none\.hnsw/);
    assert.throws(() => again.similar('nope'), /galaxy 'nope' is not among the 3000 embedded galaxies/);
    assert.throws(() => HnswIndex.build(e, { metric: 'manhattan' as never }), /unknown metric 'manhattan'. Valid choices: cosine, euclidean/);
  });
});

describe('galmorph index and similar --index', function () {
  this.timeout(120_000);

  it('builds an index, answers from it as exact search does, and reuses a stored PCA on new galaxies', () => {
    const dir = tempDir();
    const all = clustered(1200, 12, 2);
    const emb = path.join(dir, 'emb.parquet');
    writeEmbeddings(emb, all);
    const idx = path.join(dir, 'emb.hnsw');
    const built = galmorph('index', '--embeddings', emb, '--out', idx, '--metric', 'euclidean');
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stderr, /indexed 1200 galaxies \(euclidean, 12 dimensions, M 16, efConstruction 200\) in [\d.]+ s/);

    const exact = galmorph('similar', '--embeddings', emb, '--query', 'g3', '--metric', 'euclidean', '--index', 'exact', '--out', path.join(dir, 'exact.csv'));
    const viaFile = galmorph('similar', '--embeddings', emb, '--query', 'g3', '--index-file', idx, '--ef', '200', '--out', path.join(dir, 'hnsw.csv'));
    assert.equal(exact.status, 0, exact.stderr);
    assert.equal(viaFile.status, 0, viaFile.stderr);
    assert.match(viaFile.stdout, /^neighbours of g3 \(euclidean, HNSW index .*emb\.hnsw, ef 200\):/);
    const ids = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1]);
    assert.deepEqual(ids('hnsw.csv'), ids('exact.csv'));
    const onTheFly = galmorph('similar', '--embeddings', emb, '--query', 'g3', '--metric', 'euclidean', '--index', 'hnsw');
    assert.equal(onTheFly.status, 0, onTheFly.stderr);
    assert.match(onTheFly.stderr, /built an HNSW index of 1200 galaxies/);

    const wrongMetric = galmorph('similar', '--embeddings', emb, '--query', 'g3', '--index-file', idx, '--metric', 'cosine');
    assert.match(wrongMetric.stderr, /compares by euclidean, not cosine/);
    const badKind = galmorph('similar', '--embeddings', emb, '--query', 'g3', '--index', 'lsh');
    assert.match(badKind.stderr, /unknown --index 'lsh'. Valid choices: auto, exact, hnsw/);

    // a PCA fitted on the first 1000 galaxies, reused on 200 new ones
    const old = { ids: all.ids.slice(0, 1000), vectors: all.vectors.slice(0, 1000 * 12), dim: 12 };
    const fresh = { ids: all.ids.slice(1000), vectors: all.vectors.slice(1000 * 12), dim: 12 };
    const pcaFile = path.join(dir, 'old.pca.json');
    const pca = RepresentationPca.fit(old, { components: 4 });
    writePca(pcaFile, pca);
    const freshFile = path.join(dir, 'fresh.arrow');
    writeEmbeddings(freshFile, fresh);
    const r = galmorph('similar', '--embeddings', freshFile, '--query', 'g1000', '--k', '5', '--pca-file', pcaFile, '--out', path.join(dir, 'fresh.csv'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /PCA from .*old\.pca\.json \(fitted on 1000 galaxies\), explained variance: PC1 [\d.]+%, PC2 [\d.]+%, PC3 [\d.]+%, PC4 [\d.]+% \(total [\d.]+%\)/);
    assert.match(r.stdout, /^neighbours of g1000 \(cosine, 4 PCA components\):/);
    assert.deepEqual(ids('fresh.csv'), similar(fresh, 'g1000', { k: 5, pca }).map((n) => n.id));
    const mismatch = galmorph('similar', '--embeddings', freshFile, '--query', 'g1000', '--pca-file', pcaFile, '--pca', '3');
    assert.match(mismatch.stderr, /give --pca \(fit\) or --pca-file \(reuse\), not both/);
  });
});
