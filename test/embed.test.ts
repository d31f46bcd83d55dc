import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { AnswerSpace, buildGalaxyModel } from '../src/models/galaxy-model';
import { embedCatalog, readEmbeddings, writeEmbeddings } from '../src/representations/embed';
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

  it('an interrupted embedding resumes from its finished parts and gives the same vectors', async () => {
    const config = { arch: 'smallcnn', size: 32, channels: 3 as const, dropout: 0.5, schemas: ['gz2'] };
    const loaded = { model: buildGalaxyModel(config), config, space: AnswerSpace.fromNames(['gz2']), dir: '' };
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
    assert.deepEqual(fs.readdirSync(`${out}.parts`), ['part-000000.arrow']);
    const lines: string[] = [];
    const resumed = await embedCatalog(loaded, catalog, out, { partSize: 4, batchSize: 3, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes('resuming: 1 of 3 parts')), lines.join('\n'));
    assert.deepEqual(resumed.ids, whole.ids);
    // the representation is taken before the dropout layer: deterministic
    resumed.vectors.forEach((v, i) => assert.ok(Math.abs(v - whole.vectors[i]!) < 1e-6));
    assert.ok(!fs.existsSync(`${out}.parts`), 'parts are removed once joined');
    loaded.model.dispose();
  });
});
