import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import Papa from 'papaparse';
import { initBackend } from '../src/backend/select';
import { Catalog, readCatalog } from '../src/data/catalog';
import { openDatasetCatalog } from '../src/data/manifests';
import { recalibrateBatchNorm, batchNormLayers } from '../src/finetune/batch-norm-stats';
import { EncoderBlock, encoderBlocks, unfreezeTop } from '../src/finetune/blocks';
import { balancedSplit, curveProgress, depthBlocks, learningCurve, mostWrong, summariseCurve, trainingIndices, RunRecord } from '../src/finetune/experiment';
import { selectRows } from '../src/data/embeddings';
import { encode } from '../src/encoders/encode';
import { embeddingCachePath, Encoder, loadEncoder } from '../src/encoders/registry';
import { cachedEmbeddings, modelFilesTag, readMatchingCache } from '../src/representations/cache';
import { buildHead } from '../src/models/head';
import { binaryTargets, classificationTargets, regressionTargets, selectTargets, treeTargets } from '../src/finetune/labels';
import { binaryAccuracy, multiclassAccuracy, regressionScores, rocAuc } from '../src/finetune/metrics';
import { summarise as meanStd } from '../src/report/summary';
import { FineTunedModel, isFinetunedModelDir } from '../src/models/finetuned-model';
import { finetuneCatalog } from '../src/finetune/run';
import { seedInitializers } from '../src/models/surgery';
import { finetune, validationSplit } from '../src/finetune/train';
import { fitLinearProbe, probeScores } from '../src/finetune/logistic';
import { seededRng } from '../src/data/augment';
import { AnswerSpace } from '../src/models/galaxy-model';
import { loadGalaxyModel } from '../src/models/load';
import { projectRoot } from '../src/paths';
import { loadVoteDataset } from '../src/schemas/vote-datasets';
import { tempDir } from './support/fixtures';

/** The first `perClass` rings and `perClass` non-rings of the shared DECaLS ring catalogue. */
function ringSample(perClass: number): Catalog {
  const cat = openDatasetCatalog('decals-rings-470');
  const rings = cat.rows.filter((r) => r.ring === '1').slice(0, perClass);
  const others = cat.rows.filter((r) => r.ring === '0').slice(0, perClass);
  return cat.subset([...rings, ...others].map((r) => r[cat.idCol]!));
}

describe('fine-tuning: metrics', () => {
  it('ROC AUC counts ties as half and matches a hand count; accuracy thresholds at 0.5', () => {
    // positives 0.9, 0.4, 0.4; negatives 0.4, 0.1: pairs won 2 + 0.5 + 0.5 (ties with 0.4) + 3 (over 0.1)... = 5/6
    assert.ok(Math.abs(rocAuc([1, 1, 1, 0, 0], [0.9, 0.4, 0.4, 0.4, 0.1]) - 5 / 6) < 1e-12);
    assert.equal(rocAuc([1, 0], [0.2, 0.8]), 0);
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.8])), 'one class: undefined');
    assert.equal(binaryAccuracy([1, 0, 1, 0], [0.7, 0.2, 0.4, 0.5]), 0.5);
    assert.equal(multiclassAccuracy([2, 0], [0.1, 0.2, 0.7, 0.3, 0.6, 0.1], 3), 0.5);
    const r = regressionScores([1, 2, 3], [1, 2, 5]);
    assert.ok(Math.abs(r.mae - 2 / 3) < 1e-12 && Math.abs(r.rmse - Math.sqrt(4 / 3)) < 1e-12 && Math.abs(r.r2 - (1 - 4 / 2)) < 1e-12);
    const s = meanStd([0.6, 0.8, NaN]);
    assert.ok(Math.abs(s.mean - 0.7) < 1e-12 && Math.abs(s.std - Math.sqrt(0.02)) < 1e-12 && s.n === 2);
  });
});

describe('fine-tuning: labels and splits', () => {
  it('reads classes from a column, names a missing column and lists the columns', () => {
    const cat = ringSample(3);
    const t = classificationTargets(cat, 'ring');
    assert.deepEqual(t.info.classes, ['0', '1']);
    assert.deepEqual(Array.from(t.y), [1, 1, 1, 0, 0, 0]);
    assert.throws(() => classificationTargets(cat, 'rings'), /decals-rings-470\/catalog\.csv has no column 'rings'\. Columns: .*ring/);
    const reg = regressionTargets(cat, 'has-spiral-arms_no_fraction');
    assert.ok(Math.abs(reg.y.reduce((a, b) => a + b, 0)) < 1e-5, 'standardised');
    assert.throws(() => regressionTargets(cat, 'iauname'), /is not a number in 6 rows/);
  });

  it('validation split is stratified and only used with enough examples per class', () => {
    const t = binaryTargets(Array.from({ length: 40 }, (_, i) => `g${i}`), Array.from({ length: 40 }, (_, i) => (i < 20 ? 1 : 0)), ['no', 'yes']);
    const { train, val } = validationSplit(t, 0.2, 3, seededRng(1));
    assert.equal(val.length, 8);
    assert.equal(val.filter((i) => i < 20).length, 4);
    assert.equal(new Set([...train, ...val]).size, 40);
    const small = selectTargets(t, [0, 1, 2, 3, 20, 21, 22, 23]);
    assert.equal(validationSplit(small, 0.2, 3, seededRng(1)).val.length, 0, 'too few: no validation');
  });

  it('the ring split holds out a fixed balanced test set; training sets are balanced, nested and disjoint from it', () => {
    const labels = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const a = balancedSplit(labels, 10, 0);
    assert.deepEqual(a, balancedSplit(labels, 10, 0), 'seeded');
    assert.equal(a.test.filter((i) => labels[i] === 1).length, 10);
    assert.equal(a.test.length, 20);
    const test = new Set(a.test);
    const t5 = trainingIndices(a, 5, 0);
    const t20 = trainingIndices(a, 20, 0);
    assert.equal(t5.filter((i) => labels[i] === 1).length, 5);
    assert.ok(t20.every((i) => !test.has(i)));
    assert.ok(t5.slice(0, 5).every((i) => t20.slice(0, 20).includes(i)), 'nested within a repeat');
    assert.notDeepEqual(trainingIndices(a, 5, 1), t5, 'repeats differ');
    assert.throws(() => trainingIndices(a, 41, 0), /training pool has 40/);
    assert.throws(() => balancedSplit(labels, 50), /cannot hold out 50 of each class/);
    assert.equal(depthBlocks('top-2'), 2);
    assert.throws(() => depthBlocks('deep' as 'head'), /Valid: head, top-<N>/);
  });

  it('summarises repeats as mean and std per start, depth and count; finds the most wrong galaxies', () => {
    const rec = (repeat: number, accuracy: number, scores: number[]): RunRecord => ({
      start: 's', depth: 'head', n: 5, repeat, accuracy, auc: 0.5, epochs: 1, seconds: 0, scores: Float32Array.from(scores),
    });
    const records = [rec(0, 0.6, [0.9, 0.1, 0.8]), rec(1, 0.8, [0.7, 0.3, 0.6])];
    const rows = summariseCurve(records);
    assert.deepEqual(Object.keys(rows[0]!), ['start', 'depth', 'n_rings', 'metric', 'mean', 'std', 'repeats']);
    const acc = rows.find((r) => r.metric === 'accuracy')!;
    assert.ok(Math.abs((acc.mean as number) - 0.7) < 1e-12 && Math.abs((acc.std as number) - Math.sqrt(0.02)) < 1e-12 && acc.repeats === 2);
    const wrong = mostWrong({ records, testIds: ['a', 'b', 'c'], testLabels: [1, 1, 0], split: { test: [], pool: { positive: [], negative: [] } } }, () => true, 2);
    assert.deepEqual(wrong.map((w) => w.id), ['b', 'c']);
  });
});

describe('fine-tuning: encoders and blocks', function () {
  this.timeout(300_000);
  before(() => initBackend('wasm'));

  it('finds the blocks of galmorph-cnn and both MobileNets and unfreezes only the top ones', async () => {
    const before = tf.memory().numTensors;
    const g = await loadEncoder('scratch-galmorph-cnn');
    assert.deepEqual(encoderBlocks(g.model).map((b) => b.name), ['block1', 'block2', 'block3', 'block4', 'block5']);
    unfreezeTop(g.model, 1);
    assert.deepEqual(g.model.trainableWeights.map((w) => w.originalName).sort(), ['block5_bn/beta', 'block5_bn/gamma', 'block5_conv/kernel']);
    assert.throws(() => unfreezeTop(g.model, 6), /has 5 \(block1, .*block5\); use 'all'/);
    g.dispose();
    const v1 = await loadEncoder('scratch-mobilenetv1');
    const b1 = encoderBlocks(v1.model);
    assert.equal(b1.length, 14, 'stem + 13 depthwise-separable blocks');
    assert.deepEqual(b1[13]!.layers.map((l) => l.name).filter((n) => /conv/.test(n) && !/bn|relu/.test(n)), ['conv_dw_13', 'conv_pw_13']);
    v1.dispose();
    const v2 = await loadEncoder('scratch-mobilenetv2');
    const b2 = encoderBlocks(v2.model);
    assert.equal(b2.length, 18, 'stem + 17 inverted residual blocks');
    assert.deepEqual(b2[2]!.layers.map((l) => l.name), ['conv_3', 'conv_4_pad', 'conv_4', 'conv_5'], 'expansion, padding, depthwise, projection');
    assert.ok(b2[17]!.layers.some((l) => l.name === 'conv_61'), 'the top 1x1 convolution joins the last block');
    v2.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('scratch encoders are seeded; unknown encoder ids list the valid ones', async () => {
    const a = await loadEncoder('scratch-galmorph-cnn', { seed: 3, size: 32 });
    const b = await loadEncoder('scratch-galmorph-cnn', { seed: 3, size: 32 });
    const c = await loadEncoder('scratch-galmorph-cnn', { seed: 4, size: 32 });
    const k = (s: Encoder) => s.model.getLayer('block1_conv').getWeights()[0]!.dataSync();
    assert.deepEqual(Array.from(k(a)), Array.from(k(b)));
    assert.notDeepEqual(Array.from(k(a)), Array.from(k(c)));
    [a, b, c].forEach((s) => s.dispose());
    await assert.rejects(loadEncoder('imagenet'), /unknown encoder 'imagenet'\. Valid choices: galmorph, imagenet-mobilenetv2, imagenet-mobilenetv1, scratch-galmorph-cnn/);
    const seeded = seedInitializers({ a: { class_name: 'GlorotUniform', config: { seed: null } }, b: { class_name: 'Zeros', config: {} } }, 1) as Record<string, { config: { seed?: number } }>;
    assert.equal(typeof seeded.a!.config.seed, 'number');
    assert.equal(seeded.b!.config.seed, undefined);
  });

  it('batch-norm statistics recalibrated from data match the data', async () => {
    const s = await loadEncoder('scratch-galmorph-cnn', { size: 32 });
    const x = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 1);
    recalibrateBatchNorm(s.model, [x.slice(0, 4), x.slice(4, 4)]);
    const bn = batchNormLayers(s.model)[0]!;
    const conv = s.model.getLayer('block1_conv');
    const expected = tf.tidy(() => tf.mean(conv.apply(x) as tf.Tensor, [0, 1, 2]));
    const moving = bn.getWeights()[2]!;
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(moving, expected))).dataSync()[0]!);
    assert.ok(err < 1e-4, `moving mean is the data mean (max error ${err})`);
    assert.equal((bn as unknown as { momentum: number }).momentum, 0.99, 'momentum restored');
    tf.dispose([x, expected]);
    s.dispose();
  });
});

describe('fine-tuning on shared galaxies', function () {
  this.timeout(600_000);
  before(() => initBackend('wasm'));

  it('a frozen galmorph encoder with a linear head: learns, saves, loads, predicts the same, leaks nothing', async () => {
    const cat = ringSample(10);
    const before = tf.memory().numTensors;
    const start = await loadEncoder('galmorph');
    const features = await encode(start, cat);
    assert.equal(features.dim, start.dim, 'one vector of the encoder\'s width per galaxy');
    const targets = classificationTargets(cat, 'ring');
    const losses: number[] = [];
    const model = await finetune(start, targets, { features: features.vectors }, { head: 'linear', epochs: 40, patience: 40, minValidation: 2, onEpoch: (e) => losses.push(e.trainLoss) });
    assert.equal(model.config.training.monitor, 'validation loss', '2 of 10 per class held out');
    assert.equal(model.config.training.trainExamples, 16);
    assert.ok(losses[losses.length - 1]! < losses[0]!, `training loss falls (${losses[0]} → ${losses[losses.length - 1]})`);
    const fromFeatures = await model.predictFeatures(features.vectors);
    const files = cat.rows.map((r) => cat.imagePath(r));
    const fromImages = await model.predictFiles(files, { batchSize: 7 });
    assert.deepEqual(fromFeatures.columns, ['p_0', 'p_1']);
    fromFeatures.values.forEach((v, i) => assert.ok(Math.abs(v - fromImages.values[i]!) < 1e-4, 'features and images agree'));
    const dir = tempDir();
    await model.save(dir);
    assert.ok(isFinetunedModelDir(dir));
    const loaded = await FineTunedModel.load(dir);
    const again = await loaded.predictFiles(files);
    again.values.forEach((v, i) => assert.ok(Math.abs(v - fromImages.values[i]!) < 1e-5, 'the saved model predicts the same'));
    assert.deepEqual(again.labels, fromImages.labels);
    await assert.rejects(loadGalaxyModel(dir), /is a fine-tuned model, not a galaxy model/);
    loaded.dispose();
    model.dispose();
    start.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('unfreezing the top block trains a copy of it (the top block moves, a lower block and the starting point do not)', async () => {
    const cat = ringSample(4);
    const before = tf.memory().numTensors;
    const start = await loadEncoder('galmorph');
    const k = (m: tf.LayersModel, layer: string) => Array.from(m.getLayer(layer).getWeights()[0]!.dataSync());
    // Whatever the committed encoder's architecture: a convolution of its top block and of its first block after the stem.
    const blocks = encoderBlocks(start.model);
    const conv = (b: EncoderBlock) => b.layers.find((l) => /Conv2D$/.test(l.getClassName()) && l.weights.length > 0)!.name;
    const top = blocks[blocks.length - 1]!;
    const [topConv, lowConv] = [conv(top), conv(blocks[1]!)];
    const originalTop = k(start.model, topConv);
    const targets = classificationTargets(cat, 'ring');
    const model = await finetune(start, targets, { files: cat.rows.map((r) => cat.imagePath(r)) }, { unfreezeBlocks: 1, epochs: 2, patience: 5, learningRate: 1e-2, head: 'mlp' });
    assert.deepEqual(model.config.unfrozen, [top.name]);
    assert.notDeepEqual(k(model.encoder, topConv), originalTop, 'the top block trained');
    assert.deepEqual(k(model.encoder, lowConv), k(start.model, lowConv), 'a lower block stayed frozen');
    assert.deepEqual(k(start.model, topConv), originalTop, 'the starting point is untouched');
    const dir = tempDir();
    await model.save(dir);
    const loaded = await FineTunedModel.load(dir);
    assert.deepEqual(k(loaded.encoder, topConv), k(model.encoder, topConv));
    assert.equal(loaded.config.head.kind, 'mlp');
    loaded.dispose();
    model.dispose();
    start.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('trains a small network from scratch (all layers) with recalibrated batch-norm statistics', async () => {
    const cat = ringSample(4);
    const before = tf.memory().numTensors;
    const start = await loadEncoder('scratch-galmorph-cnn', { size: 32 });
    const model = await finetune(start, classificationTargets(cat, 'ring'), { files: cat.rows.map((r) => cat.imagePath(r)) }, { unfreezeBlocks: 'all', epochs: 2, head: 'linear' });
    assert.equal(model.config.unfrozen.length, 5);
    const moving = batchNormLayers(model.encoder)[0]!.getWeights()[2]!.dataSync();
    assert.ok(moving.some((v) => Math.abs(v) > 1e-3), 'moving statistics left their initial zeros');
    const p = await model.predictFiles(cat.rows.map((r) => cat.imagePath(r)));
    assert.ok(p.values.every((v) => v >= 0 && v <= 1));
    model.dispose();
    start.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('regression and Galaxy Zoo tree tasks, and refusing to unfreeze from features alone', async () => {
    const votes = loadVoteDataset('decals-rings-470');
    const n = 12;
    const A = votes.counts.length / votes.catalog.length;
    const sub = { ...votes, catalog: votes.catalog.subset(n), counts: votes.counts.slice(0, n * A) };
    const start = await loadEncoder('scratch-galmorph-cnn', { size: 32 });
    const features = await encode(start, sub.catalog);
    const tree = await finetune(start, treeTargets(sub), { features: features.vectors }, { head: 'linear', epochs: 3 });
    const p = await tree.predictFeatures(features.vectors);
    assert.equal(p.columns.length, A);
    // fractions within each question sum to 1
    for (const g of AnswerSpace.fromNames([sub.schema]).groups) {
      const sum = g.reduce((a, j) => a + p.values[j]!, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `answers ${g.join(',')} sum to ${sum}`);
    }
    tree.dispose();
    const reg = await finetune(start, regressionTargets(sub.catalog, 'has-spiral-arms_no_fraction'), { features: features.vectors }, { head: 'mlp', epochs: 3 });
    const r = await reg.predictFeatures(features.vectors);
    assert.deepEqual(r.columns, ['has-spiral-arms_no_fraction_predicted']);
    assert.ok(r.values.every((v) => Number.isFinite(v) && v > -2 && v < 3), 'predictions on the targets\' scale');
    reg.dispose();
    await assert.rejects(finetune(start, regressionTargets(sub.catalog, 'has-spiral-arms_no_fraction'), { features: features.vectors }, { unfreezeBlocks: 1 }), /needs image files/);
    start.dispose();
  });

  it('caches frozen features and reuses them only for the same galaxies', async () => {
    const cat = ringSample(2);
    const start = await loadEncoder('scratch-galmorph-cnn', { size: 32, seed: 2 });
    const dir = tempDir();
    const file = embeddingCachePath('rings4', start, dir);
    assert.equal(path.basename(file), 'rings4-scratch-galmorph-cnn-seed2.parquet');
    assert.equal(path.basename(embeddingCachePath('x', { id: 'galmorph' }, dir)), 'x-galmorph-honest.parquet', 'shared with the similarity notebook');
    const a = await cachedEmbeddings(start, cat, file);
    const mtime = fs.statSync(file).mtimeMs;
    const b = await cachedEmbeddings(start, cat, file);
    assert.equal(fs.statSync(file).mtimeMs, mtime, 'read, not recomputed');
    assert.deepEqual(Array.from(b.vectors), Array.from(a.vectors));
    const fewer = await cachedEmbeddings(start, cat.subset(2), file);
    assert.equal(fewer.ids.length, 2, 'other galaxies: recomputed');
    assert.deepEqual(Array.from(selectRows(a, [1])), Array.from(a.vectors.slice(a.dim, 2 * a.dim)));
    start.dispose();
  });

  it("a galaxy model's cached features are read only while its folder holds the weights they came from", async () => {
    const cat = ringSample(2);
    const modelDir = path.join(tempDir(), 'my-model');
    fs.cpSync(path.join(projectRoot(), 'models', 'galmorph-honest'), modelDir, { recursive: true });
    const start = await loadEncoder('galmorph', { modelDir });
    const file = path.join(tempDir(), 'rings4-mine.parquet');
    await cachedEmbeddings(start, cat, file);
    assert.equal(fs.readFileSync(`${file}.weights`, 'utf8').trim(), modelFilesTag(modelDir), 'the weights tag beside the cache');
    const mtime = fs.statSync(file).mtimeMs;
    await cachedEmbeddings(start, cat, file);
    assert.equal(fs.statSync(file).mtimeMs, mtime, 'the same weights: read, not recomputed');
    assert.ok(readMatchingCache(file, cat, modelFilesTag(modelDir)));
    // "Retrain" into the same folder: its saved network changes (here, the topology file's bytes).
    const topology = path.join(modelDir, 'model', 'model.json');
    fs.writeFileSync(topology, JSON.stringify(JSON.parse(fs.readFileSync(topology, 'utf8')), null, 1));
    assert.equal(readMatchingCache(file, cat, modelFilesTag(modelDir)), undefined, 'other weights: a miss');
    await new Promise((r) => setTimeout(r, 20));
    await cachedEmbeddings(start, cat, file);
    assert.ok(fs.statSync(file).mtimeMs > mtime, 'recomputed');
    assert.equal(fs.readFileSync(`${file}.weights`, 'utf8').trim(), modelFilesTag(modelDir));
    assert.equal(modelFilesTag(tempDir()), undefined, 'no saved network, no tag');
    start.dispose();
  });

  it('runs a small learning curve end to end: frozen and from-scratch runs, seeded and repeatable', async () => {
    const cat = ringSample(9);
    const before = tf.memory().numTensors;
    const options = {
      catalog: cat,
      dataset: 'rings18',
      cacheDir: tempDir(),
      testPerClass: 4,
      counts: [2, 'max' as const],
      repeats: 2,
      finetune: { head: 'linear' as const, epochs: 5 },
      runs: [
        { start: 'scratch-galmorph-cnn', depth: 'head' as const },
        { start: 'scratch-galmorph-cnn', depth: 'all' as const, counts: [2], repeats: 1, options: { epochs: 1 } },
      ],
    };
    const lines: string[] = [];
    const curve = await learningCurve({ ...options, onRun: curveProgress((l) => lines.push(l)) });
    assert.equal(curve.records.length, 2 * 2 + 1);
    assert.deepEqual([...new Set(curve.records.map((r) => r.n))], [2, 5], "'max' is the 5 left of each class");
    assert.equal(curve.testIds.length, 8);
    assert.ok(curve.records.every((r) => r.auc >= 0 && r.auc <= 1 && r.scores.length === 8));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0]!, /^scratch-galmorph-cnn head n=2: accuracy [\d.]+ ± [\d.]+, AUC [\d.]+ \(2 runs, \d+ s\) \[2\/5\]$/);
    const again = await learningCurve(options);
    assert.deepEqual(Array.from(again.records[0]!.scores), Array.from(curve.records[0]!.scores), 'frozen linear runs repeat exactly');
    assert.equal(summariseCurve(curve.records).length, 3 * 2);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it("a frozen run with the cross-validated logistic head scores the test galaxies as the benchmark's probe does on the same training rows", async () => {
    const cat = ringSample(9);
    const before = tf.memory().numTensors;
    const cacheDir = tempDir();
    const curve = await learningCurve({
      catalog: cat,
      dataset: 'rings18',
      cacheDir,
      testPerClass: 4,
      counts: [3, 'max'],
      repeats: 2,
      runs: [{ start: 'scratch-galmorph-cnn', depth: 'head', label: 'head-logistic-cv', head: 'logistic-cv', cv: { grid: [1e-3, 1e-1, 10] } }],
    });
    assert.deepEqual(curve.records.map((r) => [r.depth, r.n, r.repeat, r.epochs]), [
      ['head-logistic-cv', 3, 0, 0],
      ['head-logistic-cv', 3, 1, 0],
      ['head-logistic-cv', 5, 0, 0],
      ['head-logistic-cv', 5, 1, 0],
    ]);
    // the features the run cached, and the probe fitted here on each repeat's training rows
    const start = await loadEncoder('scratch-galmorph-cnn', { seed: 0 });
    const features = readMatchingCache(embeddingCachePath('rings18', start, cacheDir), cat)!;
    start.dispose();
    assert.ok(features, 'the frozen features were cached');
    const labels = cat.column('ring').map((v) => (v === '1' ? 1 : 0));
    for (const r of curve.records) {
      const train = trainingIndices(curve.split, r.n, r.repeat);
      const probe = fitLinearProbe(selectRows(features, train), features.dim, train.map((i) => labels[i]!), { grid: [1e-3, 1e-1, 10] });
      const expected = probeScores(probe, selectRows(features, curve.split.test));
      r.scores.forEach((p, k) => assert.ok(Math.abs(p - expected[k]!) < 1e-6, `n=${r.n} #${r.repeat}: test galaxy ${k} scored ${p}, the probe says ${expected[k]}`));
      assert.equal(r.c, probe.cv.c);
      assert.equal(r.accuracy, binaryAccuracy(curve.testLabels, expected));
    }
    await assert.rejects(
      learningCurve({ catalog: cat, dataset: 'rings18', cacheDir, testPerClass: 4, runs: [{ start: 'scratch-galmorph-cnn', depth: 'top-1', head: 'logistic-cv' }] }),
      /run scratch-galmorph-cnn top-1: head 'logistic-cv' is not available at depth 'top-1' \(the cross-validated logistic head fits frozen features: depth 'head'\)/,
    );
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  it('head layers standardise with the training statistics and ignore constant features', () => {
    const { model, standardize } = buildHead(3, { kind: 'linear', outputs: 1, activation: 'linear' });
    standardize.fit(Float32Array.from([1, 5, 1e-16, 3, 5, 3e-16]), 3);
    const stats = () => standardize.getWeights().map((w) => Array.from(w.dataSync()));
    const [mean, inv] = stats();
    assert.deepEqual(mean!.map((v) => Number(v.toPrecision(3))), [2, 5, 2e-16]);
    assert.equal(inv![0], 1);
    assert.equal(inv![1], 0, 'a constant feature is dropped');
    assert.equal(inv![2], 0, 'so is one a million times quieter than the loudest');
    // An untrained network's features can all be tiny: relative to each other they still count.
    standardize.fit(Float32Array.from([1e-16, 2e-17, 0, 3e-16, 2e-17, 0]), 3);
    const [, inv2] = stats();
    assert.ok(Math.abs(inv2![0]! - 1e16) / 1e16 < 1e-3, `tiny but varying features are kept (${inv2![0]})`);
    assert.deepEqual(inv2!.slice(1), [0, 0]);
    model.dispose();
  });
});

describe('galmorph finetune and predict (CLI)', function () {
  this.timeout(600_000);
  const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GALMORPH_BACKEND: 'wasm' } });

  it('fine-tunes on a catalogue with a held-out test, then predict reads the fine-tuned folder', () => {
    const dir = tempDir();
    const cat = ringSample(12);
    const csv = path.join(dir, 'rings.csv');
    fs.writeFileSync(csv, Papa.unparse(cat.rows.map((r) => ({ id: r[cat.idCol], file: cat.imagePath(r), ring: r.ring }))));
    const out = path.join(dir, 'ft');
    const r = run(['finetune', '--catalog', csv, '--label-col', 'ring', '--test-fraction', '0.25', '--epochs', '20', '--feature-cache', path.join(dir, 'f.parquet'), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /held-out test \(6 galaxies\): accuracy [\d.]+, auc [\d.]+, examples 6/);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.kind, 'galmorph-finetuned');
    assert.equal(config.start.id, 'galmorph');
    assert.equal(config.training.trainExamples, 18);
    const preds = path.join(dir, 'preds.csv');
    const p = run(['predict', '--model', out, '--catalog', csv, '--out', preds]);
    assert.equal(p.status, 0, p.stderr);
    const rows = readCatalog(preds, { imageCol: null }).rows;
    assert.equal(rows.length, 24);
    assert.deepEqual(Object.keys(rows[0]!), ['id', 'p_0', 'p_1', 'predicted']);
    assert.ok(rows.every((row) => ['0', '1'].includes(row.predicted!) && Math.abs(Number(row.p_0) + Number(row.p_1) - 1) < 1e-3));
  });

  it('names what is wrong: the label column, the starting point, the head', () => {
    const bad = run(['finetune', '--dataset', 'decals-rings-470', '--label-col', 'rings', '--out', tempDir()]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /catalog\.csv has no column 'rings'\. Columns: .*ring/);
    const start = run(['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--model', 'resnet', '--out', tempDir()]);
    assert.match(start.stderr, /unknown encoder 'resnet'\. Valid choices: galmorph, imagenet-mobilenetv2/);
    const head = run(['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--head', 'deep', '--out', tempDir()]);
    assert.match(head.stderr, /unknown --head 'deep'\. Valid choices: linear, mlp/);
  });

  it('finetuneCatalog measures a held-out split and hands back a model that owns its encoder', async () => {
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const result = await finetuneCatalog({ catalog: ringSample(8), labelCol: 'ring', testFraction: 0.25, head: 'linear', epochs: 10 });
    assert.equal(result.testIds.length, 4);
    assert.ok(result.metrics.accuracy! >= 0 && result.metrics.accuracy! <= 1);
    result.model.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });
});
