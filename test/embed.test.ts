import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { AnswerSpace, buildGalaxyModel } from '../src/models/galaxy-model';
import { embedCatalog } from '../src/representations/embed';
import { galaxyModelEncoder, scratchEncoder } from '../src/encoders/registry';
import { fingerprintedCachePath } from '../src/representations/cache';
import { readEmbeddings, readFeatures, writeEmbeddings } from '../src/data/embeddings';
import { spawnSync } from 'node:child_process';
import Papa from 'papaparse';
import { projectRoot } from '../src/paths';
import { readPca } from '../src/representations/pca';
import { gz2Sample, tempDir } from './support/fixtures';

describe('representations (embed)', function () {
  this.timeout(120_000);
  before(() => initBackend('wasm'));

  it('writes and reads Parquet and Arrow with ids and vectors intact', () => {
    const dir = tempDir();
    const e = { ids: ['587739505552785605', 'b', 'c'], vectors: Float32Array.from({ length: 12 }, (_, i) => i / 7), dim: 4 };
    for (const name of ['e.parquet', 'e.arrow']) {
      writeEmbeddings(path.join(dir, name), e);
      const back = readEmbeddings(path.join(dir, name));
      assert.deepEqual(back.ids, e.ids);
      assert.equal(back.dim, 4);
      assert.deepEqual(Array.from(back.vectors), Array.from(e.vectors));
    }
    assert.throws(() => readEmbeddings(path.join(dir, 'none.parquet')), /embeddings file not found/);
  });

  it("reads features computed elsewhere from CSV (id + one column per feature), naming the row and column of a bad value", () => {
    const dir = tempDir();
    const good = path.join(dir, 'torch.csv');
    fs.writeFileSync(good, 'f0,id,f1\n0.5,587739505552785605,-1e-3\n2,b,3\n');
    const e = readFeatures(good);
    assert.deepEqual(e.ids, ['587739505552785605', 'b']);
    assert.equal(e.dim, 2);
    assert.deepEqual(Array.from(e.vectors), [0.5, -0.001, 2, 3].map(Math.fround));
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'id,f0,f1\na,1,2\nb,3,nan\n');
    assert.throws(() => readFeatures(bad), /bad\.csv row 3, column 'f1': 'nan' is not a finite number/);
    fs.writeFileSync(bad, 'name,f0\na,1\n');
    assert.throws(() => readFeatures(bad), /needs an 'id' column.*found: name, f0/);
    fs.writeFileSync(bad, 'id,f0,f1\na,1\n');
    assert.throws(() => readFeatures(bad), /row 2 has 2 values, the header 3/);
    // Anything else is galmorph's own format.
    writeEmbeddings(path.join(dir, 'e.arrow'), e);
    assert.deepEqual(readFeatures(path.join(dir, 'e.arrow')).ids, e.ids);
  });

  it('an interrupted embedding resumes from its finished parts and gives the same vectors', async () => {
    const config = { arch: 'smallcnn', size: 32, channels: 3 as const, dropout: 0.5, schemas: ['gz2'] };
    const loaded = galaxyModelEncoder({ model: buildGalaxyModel(config), config, space: AnswerSpace.fromNames(['gz2']), dir: '' });
    const catalog = gz2Sample(10);
    const dir = tempDir();
    const before = tf.memory().numTensors;
    const whole = await embedCatalog(loaded, catalog, path.join(dir, 'whole.parquet'), { partSize: 4, batchSize: 3 });
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    assert.deepEqual(whole.ids, catalog.ids());
    assert.equal(whole.dim, 128);

    const out = path.join(dir, 'resumed.arrow');
    // crash after the first part is on disk
    await assert.rejects(
      embedCatalog(loaded, catalog, out, { partSize: 4, batchSize: 3, onProgress: (done) => { if (done > 4) throw new Error('interrupted'); } }),
      /interrupted/,
    );
    assert.deepEqual(fs.readdirSync(`${out}.parts`).filter((f) => f.startsWith('part-')), ['part-000000.arrow']);
    const lines: string[] = [];
    const resumed = await embedCatalog(loaded, catalog, out, { partSize: 4, batchSize: 3, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes('resuming: 1 of 3 parts')), lines.join('\n'));
    assert.deepEqual(resumed.ids, whole.ids);
    // the representation is taken before the dropout layer: deterministic
    resumed.vectors.forEach((v, i) => assert.ok(Math.abs(v - whole.vectors[i]!) < 1e-6));
    assert.ok(!fs.existsSync(`${out}.parts`), 'parts are removed once joined');
    loaded.dispose();
  });

  it('fingerprinted cache files differ by weights and input size, and agree for the same network', async () => {
    const encoders = await Promise.all([
      scratchEncoder('galmorph-cnn', { seed: 0, size: 64 }),
      scratchEncoder('galmorph-cnn', { seed: 0, size: 64 }),
      scratchEncoder('galmorph-cnn', { seed: 1, size: 64 }),
      scratchEncoder('galmorph-cnn', { seed: 0, size: 96 }),
    ]);
    try {
      const [a, same, seed1, size96] = await Promise.all(encoders.map((e) => fingerprintedCachePath('decals-rings-470', e, '/cache')));
      assert.match(a!, /^\/cache\/decals-rings-470-scratch-galmorph-cnn-seed0-64px-[0-9a-f]{12}\.parquet$/);
      assert.equal(same, a);
      assert.notEqual(seed1, a);
      assert.match(size96!, /-seed0-96px-/);
    } finally {
      encoders.forEach((e) => e.dispose());
    }
  });

  it('galmorph embed --pca writes the PCA beside the embeddings, with its explained variance', () => {
    const dir = tempDir();
    const sample = gz2Sample(12);
    const csv = path.join(dir, 'cat.csv');
    fs.writeFileSync(csv, Papa.unparse(sample.rows.map((r) => ({ asset_id: r.asset_id, file: sample.imagePath(r) }))));
    const out = path.join(dir, 'emb.parquet');
    const r = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'galmorph.js'), 'embed', '--catalog', csv, '--id-col', 'asset_id', '--out', out, '--pca', '3'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /wrote a PCA of 3 components \(fitted on 12 galaxies\) to .*emb\.pca\.json\nexplained variance: PC1 [\d.]+%, PC2 [\d.]+%, PC3 [\d.]+% \(total [\d.]+%\)/);
    const e = readEmbeddings(out);
    const pca = readPca(path.join(dir, 'emb.pca.json'));
    assert.equal(pca.count, 12);
    assert.equal(pca.dim, e.dim);
    assert.equal(pca.components, 3);
    const ev = pca.explainedVariance();
    assert.ok(ev[0]! >= ev[1]! && ev[1]! >= ev[2]! && ev.reduce((a, b) => a + b) <= 1 + 1e-9);
  });
});
