import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { readCatalog } from '../src/data/catalog';
import { ImageLoader } from '../src/data/images';
import { decodeSize } from '../src/data/preprocess';
import { AnswerSpace, buildGalaxyModel, GalaxyModelConfig } from '../src/models/galaxy-model';
import { resolveDataPath } from '../src/paths';
import { GZ1, GZ2 } from '../src/schemas/galaxy-zoo';
import { fromCatalog, loadVoteDataset, VoteDataset } from '../src/schemas/vote-datasets';
import { resolveExclusion } from '../src/training/exclusion';
import { writeModelCard } from '../src/training/model-card';
import { trainStep } from '../src/training/step';
import { batchWeights, evaluateLoss, galaxyLoss, trainGalaxyModel, TrainOptions } from '../src/training/train-galaxy';
import { assemble } from '../src/training/vote-data';
import { gz2Sample, tempDir } from './support/fixtures';

const GZ2_VOTES = { fractions: '{answer}_weighted_fraction', total: 'total_classifications' };

/** A few galaxies of gz2-hart16-1000 and gz1-sdss-4019 under their dataset ids (`mergers` of the GZ1 ones are mergers). */
function smallDatasets(gz2: number, gz1: number, mergers: number): VoteDataset[] {
  const gz1Cat = readCatalog(resolveDataPath('gz1-sdss-4019/catalog.csv'), { idCol: 'objid_dr7', checkImages: false });
  const merger = gz1Cat.rows.filter((r) => r.gz1_class_name === 'merger').slice(0, mergers);
  const other = gz1Cat.rows.filter((r) => r.gz1_class_name !== 'merger').slice(0, gz1 - mergers);
  return [
    fromCatalog(gz2Sample(gz2), 'gz2', GZ2_VOTES, 'gz2-hart16-1000'),
    fromCatalog(gz1Cat.subset([...other, ...merger].map((r) => r.objid_dr7!)), 'gz1', { classColumn: 'gz1_class_name' }, 'gz1-sdss-4019'),
  ];
}

describe('training data: the honest protocol and dataset loss weights', function () {
  this.timeout(300_000);
  before(() => initBackend('wasm'));

  it("the 'honest' preset zeroes exactly GZ2 t06/t08 and drops the GZ1 mergers, leaving every other count as it was", () => {
    const datasets = ['gz2-hart16-1000', 'gz2-kaggle-5000', 'gz1-sdss-4019', 'decals-rings-470'].map(loadVoteDataset);
    const space = AnswerSpace.fromNames([...new Set(datasets.map((d) => d.schema))]);
    const plain = assemble(datasets, space);
    const honest = assemble(datasets, space, resolveExclusion('honest'));
    const gz2 = space.indicesOf('gz2');
    const masked = new Set(['t06_odd', 't08_odd_feature'].flatMap((q) => GZ2.question(q).answers.map((a) => gz2[GZ2.answerIndex().get(a.key)!]!)));
    const mergerColumn = space.indicesOf('gz1')[GZ1.answerIndex().get('merger')!]!;
    const S = space.size;
    const row = new Map(honest.ids.map((id, i) => [id, i]));
    const taken = new Map<string, { votes: number; galaxies: number }>();
    plain.ids.forEach((id, p) => {
      const dataset = plain.datasets[plain.source[p]!]!;
      const t = taken.get(dataset) ?? { votes: 0, galaxies: 0 };
      taken.set(dataset, t);
      const h = row.get(id);
      if (plain.counts[p * S + mergerColumn] === 1) {
        assert.equal(h, undefined, `${id}: a GZ1 merger, which has no other votes, is dropped`);
        t.votes += 1;
        t.galaxies += 1;
        return;
      }
      assert.notEqual(h, undefined, `${id} is kept`);
      let lost = 0;
      for (let c = 0; c < S; c++) {
        const before = plain.counts[p * S + c]!;
        const after = honest.counts[h! * S + c]!;
        if (masked.has(c)) {
          assert.equal(after, 0, `${id}, ${space.answers[c]!.column}`);
          lost += before;
        } else assert.equal(after, before, `${id}, ${space.answers[c]!.column} is unchanged`);
      }
      t.votes += lost;
      t.galaxies += lost > 0 ? 1 : 0;
    });
    assert.equal(honest.ids.length, plain.ids.length - 115);
    assert.deepEqual(honest.exclusion!.counts, datasets.map((d) => ({ dataset: d.id, ...taken.get(d.id)!, dropped: d.id === 'gz1-sdss-4019' ? 115 : 0 })));
    assert.ok(taken.get('gz2-hart16-1000')!.votes > 1000 && taken.get('gz2-kaggle-5000')!.galaxies > 4000, JSON.stringify([...taken]));
    assert.deepEqual(taken.get('decals-rings-470'), { votes: 0, galaxies: 0 });
    assert.throws(() => resolveExclusion('lenient' as 'honest'), /unknown exclusion 'lenient'\. Presets: honest/);
    assert.throws(() => resolveExclusion({ questions: { gz2: ['t99_rings'] } }), /schema 'gz2' has no question 't99_rings'/);
  });

  it('an honest run records its exclusion in config.json, the fingerprint (resume refuses a change) and the model card', async () => {
    const out = path.join(tempDir(), 'model');
    const base: TrainOptions = {
      datasets: smallDatasets(10, 4, 2),
      out,
      model: { arch: 'smallcnn', size: 32, channels: 3, dropout: 0.5 },
      epochs: 1,
      batchSize: 4,
      maxStepsPerEpoch: 1,
      split: { val: 0.25, test: 0.25 },
      exclude: 'honest',
      datasetWeights: { 'gz1-sdss-4019': 0.5 },
      log: () => undefined,
    };
    await trainGalaxyModel(base);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.deepEqual(config.fingerprint.exclude, { preset: 'honest', spec: { questions: { gz2: ['t06_odd', 't08_odd_feature'] }, leadingAnswers: { gz1: ['merger'] } } });
    assert.deepEqual(config.fingerprint.datasetWeights, { 'gz2-hart16-1000': 1, 'gz1-sdss-4019': 0.5 });
    assert.deepEqual(config.exclusion.counts[1], { dataset: 'gz1-sdss-4019', votes: 2, galaxies: 2, dropped: 2 });
    assert.equal(config.training.galaxies, 12);
    await assert.rejects(trainGalaxyModel({ ...base, resume: true, exclude: undefined }), /cannot resume .*"exclude":\{"preset":"honest".*this run asks for .*"exclude":null.*changed: galaxies, exclude/);
    await assert.rejects(trainGalaxyModel({ ...base, resume: true, datasetWeights: undefined }), /changed: datasetWeights/);
    const { card } = await writeModelCard(out, 1);
    assert.match(card, /Excluded from training \(preset 'honest': every gz2 vote on t06_odd, t08_odd_feature; the gz1 question led by merger .*\)\. gz2-hart16-1000: \d+ votes of \d+ galaxies masked, 0 galaxies dropped .*; gz1-sdss-4019: 2 votes of 2 galaxies masked, 2 galaxies dropped/);
    assert.match(card, /dataset loss weights: gz2-hart16-1000 1, gz1-sdss-4019 0\.5 \(each galaxy's loss term times its dataset's weight/);
    assert.match(card, /## Test metrics: Kaggle Galaxy Challenge\n\nNot measured: the model's config\.json does not list gz2-kaggle-5000 among its training datasets\./, 'a model without Kaggle galaxies says why the Kaggle score is missing');
  });

  it("with weight 0 for one dataset, the loss is the loss on the other dataset's galaxies alone", async () => {
    const datasets = smallDatasets(3, 3, 0);
    // Dropout 0: the head's Monte Carlo dropout stays on at inference, which would make each loss random.
    const config: GalaxyModelConfig = { arch: 'smallcnn', size: 32, channels: 3, dropout: 0, schemas: ['gz2', 'gz1'] };
    const space = AnswerSpace.fromNames(config.schemas);
    const set = assemble(datasets, space);
    const q = space.questionMatrix();
    const zeroGz1 = [1, 0];
    // Validation loss (inference, batch norm on its moving statistics: each galaxy's loss is its own).
    const model = buildGalaxyModel(config);
    const loader = new ImageLoader({ size: decodeSize(config.size) });
    const all = await evaluateLoss(model, loader, set, [0, 1, 2, 3, 4, 5], config, q, 4, zeroGz1);
    const gz2Alone = await evaluateLoss(model, loader, set, [0, 1, 2], config, q, 4);
    assert.ok(Math.abs(all - gz2Alone) < 1e-4 * gz2Alone, `${all} against ${gz2Alone}`);
    // A training step, over micro-batches that cut across the two datasets (a model without batch norm or dropout).
    const input = tf.input({ shape: [5] });
    const dense = tf.model({ inputs: input, outputs: tf.layers.dense({ units: space.size, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor });
    const x = tf.randomNormal([6, 5], 0, 1, 'float32', 2);
    const y = tf.tensor2d(set.counts, [6, space.size]);
    const w = tf.tensor1d(batchWeights(set, [0, 1, 2, 3, 4, 5], zeroGz1)!);
    const weighted = await trainStep(dense, tf.train.sgd(0), x, y, galaxyLoss(q), { weights: w, microBatch: 4 });
    const alone = await trainStep(dense, tf.train.sgd(0), x.slice(0, 3), y.slice(0, 3), galaxyLoss(q));
    assert.ok(Math.abs(weighted - alone) < 1e-4 * alone, `${weighted} against ${alone}`);
    assert.equal(batchWeights(set, [3, 4], zeroGz1), null, 'a batch of weight-0 galaxies has nothing to learn from');
    assert.equal(batchWeights(set, [3, 4], null), undefined);
    await assert.rejects(trainGalaxyModel({ datasets, out: tempDir(), model: config, datasetWeights: { 'gz2-kaggle-5000': 0.3 } }), /loss weight is given for dataset 'gz2-kaggle-5000', which this run does not train on\. Datasets: gz2-hart16-1000, gz1-sdss-4019/);
    tf.dispose([q, x, y, w]);
    model.dispose();
    dense.dispose();
  });
});
