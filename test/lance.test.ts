/** LanceDB on disk (src/similarity/lance.ts): the exact scan equals galmorph's exact search, the ANN index finds the neighbours. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeEmbeddings } from '../src/data/embeddings';
import { projectRoot } from '../src/paths';
import { RepresentationPca } from '../src/representations/pca';
import { buildLance, LanceSearch } from '../src/similarity/lance';
import { exactSearch, similar } from '../src/similarity/search';
import { mixture } from '../bench/synthetic';
import { tempDir } from './support/fixtures';

describe('LanceDB similarity search on disk', function () {
  this.timeout(180_000);
  const dir = tempDir('galmorph-lance-');
  const e = mixture(3000, 32, 40, 7);
  const file = path.join(dir, 'emb.parquet');
  before(() => writeEmbeddings(file, e));

  for (const metric of ['cosine', 'euclidean'] as const) {
    it(`${metric}: the exact scan of the table is galmorph's exact search, and IVF-PQ finds the 10 nearest (recall@10 ≥ 0.9)`, async () => {
      const db = path.join(dir, `db-${metric}`);
      const meta = await buildLance(file, db, { metric, index: 'ivf-pq', partitions: 16, batchRows: 1000 });
      assert.equal(meta.galaxies, 3000);
      const search = await LanceSearch.open(db);
      try {
        let found = 0;
        const queries = Array.from({ length: 40 }, (_, i) => i * 73);
        for (const q of queries) {
          const id = e.ids[q]!;
          const truth = exactSearch(e, e.vectors.subarray(q * e.dim, (q + 1) * e.dim), 10, metric, q);
          const scan = await search.similar(id, { k: 10, exact: true });
          assert.deepEqual(scan.map((n) => n.id), truth.map((h) => e.ids[h.index]), `exact scan for ${id}`);
          scan.forEach((n, i) => assert.ok(Math.abs(n.distance - truth[i]!.distance) < 1e-3, `${n.distance} vs ${truth[i]!.distance}`));
          const approx = await search.similar(id, { k: 10, nprobes: 4 });
          const want = new Set(truth.map((h) => e.ids[h.index]));
          found += approx.filter((n) => want.has(n.id)).length;
          assert.ok(!approx.some((n) => n.id === id), 'the query is left out');
        }
        assert.ok(found / (queries.length * 10) >= 0.9, `recall@10 ${found / (queries.length * 10)}`);
        if (metric === 'cosine') {
          // galmorph bounds LanceDB's caches (64 MiB each by default); a tiny bound answers the same as LanceDB's own defaults
          assert.equal(typeof search.cachedMiB(), 'number');
          const small = await LanceSearch.open(db, { cacheMiB: 1 });
          const unbounded = await LanceSearch.open(db, { cacheMiB: 'lancedb' });
          try {
            assert.equal(unbounded.cachedMiB(), undefined);
            for (const q of queries.slice(0, 10)) {
              const want = (await unbounded.similar(e.ids[q]!, { k: 10, nprobes: 4 })).map((n) => n.id);
              assert.deepEqual((await small.similar(e.ids[q]!, { k: 10, nprobes: 4 })).map((n) => n.id), want);
            }
          } finally {
            small.close();
            unbounded.close();
          }
        }
      } finally {
        search.close();
      }
    });
  }

  it('with a PCA the table searches its components, as similar(--pca) does; IVF_HNSW_SQ too', async () => {
    const db = path.join(dir, 'db-pca');
    const meta = await buildLance(file, db, { metric: 'cosine', pca: 5, index: 'ivf-hnsw-sq', partitions: 4 });
    assert.equal(meta.column, 'pca');
    const search = await LanceSearch.open(db);
    try {
      const pca = search.pca(db)!;
      assert.ok(pca instanceof RepresentationPca);
      const truth = similar(e, 's11', { k: 10, pca });
      const scan = await search.similar('s11', { k: 10, exact: true });
      assert.deepEqual(scan.map((n) => n.id), truth.map((n) => n.id));
      const approx = await search.similar('s11', { k: 10, ef: 100 });
      assert.ok(approx.filter((n) => truth.some((t) => t.id === n.id)).length >= 8);
      await assert.rejects(search.similar('nope'), /'nope' is not among the 3000 galaxies/);
    } finally {
      search.close();
    }
  });

  it('galmorph index --lance and similar --lance on the command line', () => {
    const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
    const db = path.join(dir, 'db-cli');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    const built = run(['index', '--embeddings', file, '--lance', db, '--partitions', '8']);
    assert.equal(built.status, 0, built.stderr);
    assert.ok(fs.existsSync(path.join(db, 'galmorph-lance.json')));
    const out = path.join(dir, 'n.csv');
    const r = run(['similar', '--lance', db, '--query', 's5', '--k', '3', '--index', 'exact', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const truth = similar(e, 's5', { k: 3 });
    assert.match(r.stdout, /LanceDB .*exact scan/);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1]), truth.map((n) => n.id));
    const bad = run(['similar', '--lance', db, '--query', 's5', '--metric', 'euclidean']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /compares by cosine, not euclidean/);
  });
});
