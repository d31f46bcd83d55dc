import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import Papa from 'papaparse';
import { initBackend } from '../src/backend/select';
import { readCatalog } from '../src/data/catalog';
import { AnswerSpace, buildGalaxyModel, concentrationFloorOf, GalaxyModelConfig, predictFractions, toConcentrations } from '../src/models/galaxy-model';
import { dirichletMultinomialNLL } from '../src/models/dirichlet';
import { loadGalaxyModel } from '../src/models/load';
import { galaxyLoss } from '../src/training/train-galaxy';
import { fileSystem } from '../src/models/io';
import { compareFractions } from '../src/models/evaluate';
import { projectRoot, resolveDataPath } from '../src/paths';
import { tempDir } from './support/fixtures';
import { loadVoteDataset, NOMINAL_DECALS_VOTES } from '../src/schemas/vote-datasets';
import { splitIndices } from '../src/training/vote-data';
import { GZ_DECALS_DR5 } from '../src/schemas/galaxy-zoo';

const BIN = path.join(projectRoot(), 'bin', 'galmorph.js');

/** A GZ2 catalogue of `n` real galaxies (rows `from`..), image paths absolute. */
function gz2Catalog(dir: string, from: number, n: number): string {
  const src = readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'asset_id' });
  const rows = src.rows.slice(from, from + n).map((r) => ({ ...r, file: src.imagePath(r) }));
  const file = path.join(dir, `gz2-${from}-${n}.csv`);
  fs.writeFileSync(file, Papa.unparse(rows, { newline: '\n' }));
  return file;
}

function readLog(dir: string): { epoch: number; finished: string }[] {
  const f = path.join(dir, 'train-log.jsonl');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : [];
}

describe('galaxy model', function () {
  this.timeout(300_000);
  before(() => initBackend('wasm'));

  it('saves and loads through the file-system handler with identical predictions and no leaked tensors', async () => {
    const config: GalaxyModelConfig = { arch: 'smallcnn', size: 24, channels: 3, dropout: 0, schemas: ['gz2', 'gz1'] };
    const model = buildGalaxyModel(config);
    const space = AnswerSpace.fromNames(config.schemas);
    assert.equal(space.size, 37 + 6);
    const dir = tempDir();
    await model.save(fileSystem(dir));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileSystem(dir));
    const x = tf.randomUniform([3, 24, 24, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const a = await predictFractions({ model, space, config }, x, 1);
    const b = await predictFractions({ model: loaded, space, config }, x, 1);
    assert.equal(tf.memory().numTensors, before, 'prediction leaks no tensor');
    assert.deepEqual(Array.from(a.mean), Array.from(b.mean));
    // fractions within each question sum to one
    for (const g of space.groups) assert.ok(Math.abs(g.reduce((s, c) => s + a.mean[c]!, 0) - 1) < 1e-5);
    tf.dispose([x]);
    model.dispose();
    loaded.dispose();
    await assert.rejects(tf.loadLayersModel(fileSystem(path.join(dir, 'nowhere'))), /no model at .*nowhere \(model.json is missing\)/);
  });

  it('training killed mid-epoch resumes from the last finished epoch, and predict writes all 37 GZ2 answers for unseen galaxies', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'model');
    const args = [
      BIN, 'train', '--catalog', gz2Catalog(dir, 0, 48), '--schema', 'gz2', '--id-col', 'asset_id',
      '--fractions', '{answer}_weighted_fraction', '--total', 'total_classifications',
      '--arch', 'smallcnn', '--size', '32', '--batch', '8', '--epochs', '4', '--patience', '10', '--out', out,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // wait for the first finished epoch, then kill -9 during the next one
    const started = Date.now();
    while (readLog(out).length < 1) {
      if (Date.now() - started > 120_000 || child.exitCode !== null) assert.fail(`no epoch finished: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')) as { epoch: number };
    assert.ok(state.epoch >= 1 && state.epoch < 4, `checkpoint after epoch ${state.epoch}`);
    const before = readLog(out).filter((r) => r.epoch <= state.epoch);

    const resumed = spawnSync(process.execPath, [...args, '--resume'], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming after epoch ${state.epoch}`));
    const log = readLog(out);
    assert.deepEqual(log.map((r) => r.epoch), [1, 2, 3, 4], 'every epoch once, in order');
    assert.deepEqual(log.slice(0, before.length), before, 'finished epochs are kept as they were');
    const other = spawnSync(process.execPath, [...args.map((a) => (a === 'smallcnn' ? 'galmorph-cnn' : a)), '--resume'], { encoding: 'utf8' });
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /cannot resume .* it was trained with .*smallcnn.*this run asks for .*galmorph-cnn/);

    // galaxies 100.. were never in this model's catalogue
    const preds = path.join(dir, 'preds.csv');
    const p = spawnSync(process.execPath, [BIN, 'predict', '--model', out, '--catalog', gz2Catalog(dir, 100, 5), '--id-col', 'asset_id', '--samples', '3', '--out', preds], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const csv = Papa.parse<Record<string, string>>(fs.readFileSync(preds, 'utf8'), { header: true, skipEmptyLines: true });
    assert.equal(csv.data.length, 5);
    const fractionCols = csv.meta.fields!.filter((f) => f.endsWith('_fraction'));
    assert.equal(fractionCols.length, 37, 'all 37 GZ2 answers');
    assert.ok(fractionCols.includes('t01_smooth_or_features_a01_smooth_fraction'));
    assert.equal(csv.meta.fields!.filter((f) => f.endsWith('_fraction_std')).length, 37);
    const first = csv.data[0]!;
    const t01 = ['a01_smooth', 'a02_features_or_disk', 'a03_star_or_artifact'].reduce((s, a) => s + Number(first[`t01_smooth_or_features_${a}_fraction`]), 0);
    assert.ok(Math.abs(t01 - 1) < 1e-3, `first question's fractions sum to ${t01}`);
  });

  it('test metrics: MAE against the mean-prediction baseline, and accuracy where volunteers agree', () => {
    const space = AnswerSpace.fromNames(['gz1']);
    // gz1: one question, six answers; two galaxies, the first confident
    const truth = Float64Array.from([0.9, 0.1, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0]);
    const predicted = Float64Array.from([0.7, 0.3, 0, 0, 0, 0, 0.2, 0.8, 0, 0, 0, 0]);
    const mean = Float64Array.from([0.5, 0.5, 0, 0, 0, 0]);
    const e = compareFractions(space, 'gz1', predicted, truth, mean);
    assert.ok(Math.abs(e.answers[0]!.mae - (0.2 + 0.3) / 2) < 1e-12);
    assert.ok(Math.abs(e.answers[0]!.baseline_mae - (0.4 + 0) / 2) < 1e-12);
    assert.ok(Math.abs(e.answers[1]!.mean_predicted - (0.3 + 0.8) / 2) < 1e-12);
    assert.ok(Math.abs(e.answers[1]!.mean_volunteers - (0.1 + 0.5) / 2) < 1e-12);
    assert.deepEqual(e.questions, [{ question: 'gz1_class', n: 1, accuracy: 1 }]);
  });
});

describe('training data from the shared datasets', () => {
  it('rebuilds DECaLS counts for the ring galaxies down the tree from 40 nominal volunteers', () => {
    const d = loadVoteDataset('decals-rings-470');
    assert.equal(d.schema, 'gz-decals-dr5');
    const idx = GZ_DECALS_DR5.answerIndex();
    const A = GZ_DECALS_DR5.answerCount;
    const featured = d.catalog.numbers('smooth-or-featured_featured-or-disk_fraction');
    for (let i = 0; i < d.catalog.length; i++) {
      const c = (k: string) => d.counts[i * A + idx.get(k)!]!;
      assert.equal(c('smooth-or-featured_smooth') + c('smooth-or-featured_featured-or-disk'), NOMINAL_DECALS_VOTES);
      assert.equal(c('smooth-or-featured_featured-or-disk'), Math.round(NOMINAL_DECALS_VOTES * featured[i]!));
      assert.equal(c('disk-edge-on_yes') + c('disk-edge-on_no'), c('smooth-or-featured_featured-or-disk'));
      assert.equal(c('has-spiral-arms_yes') + c('has-spiral-arms_no'), c('disk-edge-on_no'));
      assert.equal(c('bar_strong') + c('bar_weak') + c('bar_no') + c('merging_none'), 0, 'other questions unanswered');
    }
  });

  it('splits deterministically by seed into disjoint train, validation and test sets', () => {
    const a = splitIndices(100, 3, { val: 0.1, test: 0.2 });
    assert.deepEqual(a, splitIndices(100, 3, { val: 0.1, test: 0.2 }));
    assert.deepEqual([a.train.length, a.val.length, a.test.length], [70, 10, 20]);
    assert.equal(new Set([...a.train, ...a.val, ...a.test]).size, 100);
    assert.notDeepEqual(a.test, splitIndices(100, 4, { val: 0.1, test: 0.2 }).test);
  });
  it('a lower concentration floor is trained with, saved, and used in prediction; a rare answer can then be predicted near 0', async () => {
    // By hand: sigmoids 0.1, 0.1, 0 (an unsure smooth/featured call, no star) give concentrations
    // floor + 10, floor + 10, floor; the star's expected fraction is floor / (3·floor + 20).
    const space = AnswerSpace.fromNames(['gz2']);
    const q = space.questionMatrix();
    const sig = tf.tensor2d([[0.1, 0.1, 0, ...new Array(34).fill(0.5)]]);
    for (const floor of [1, 0.1]) {
      const c = toConcentrations(sig, floor);
      assert.ok(Math.abs((await c.data())[2]! - floor) < 1e-6);
      const star = floor / (3 * floor + 20);
      const { mean } = await predictFractions({ model: tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [37] })] }), space, config: { concentrationFloor: floor } }, sig as unknown as tf.Tensor4D, 1);
      assert.ok(Math.abs(mean[2]! - star) < 1e-6, `floor ${floor}: star ${mean[2]} against ${star}`);
      c.dispose();
    }
    assert.throws(() => toConcentrations(sig, 0), /concentration floor must be positive, got 0/);
    // The training loss is the Dirichlet-multinomial of the floored concentrations, and a zero
    // count on an answer with sigmoid 0 costs less with the lower floor.
    const counts = tf.tensor2d([[20, 20, 0, ...new Array(34).fill(0)]]);
    const lossAt = async (floor: number) => (await galaxyLoss(q, floor)(counts, sig).data())[0]!;
    const direct = (await dirichletMultinomialNLL(counts, toConcentrations(sig, 0.1), q).data())[0]!;
    assert.ok(Math.abs((await lossAt(0.1)) - direct) < 1e-4);
    assert.ok((await lossAt(0.1)) < (await lossAt(1)));
    tf.dispose([q, sig, counts]);
    assert.equal(concentrationFloorOf({}), 1, "models without the field keep Zoobot's floor");

    // Through the command line: the floor is validated, saved in config.json, and the loaded model
    // predicts with it (checked against the concentrations computed by hand from its raw output).
    const dir = tempDir();
    const out = path.join(dir, 'model');
    const base = [BIN, 'train', '--catalog', gz2Catalog(dir, 100, 24), '--schema', 'gz2', '--id-col', 'asset_id',
      '--fractions', '{answer}_weighted_fraction', '--total', 'total_classifications',
      '--arch', 'smallcnn', '--size', '32', '--batch', '8', '--epochs', '1', '--dropout', '0', '--out', out];
    const bad = spawnSync(process.execPath, [...base, '--concentration-floor', '0'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--concentration-floor.*positive number/);
    const ok = spawnSync(process.execPath, [...base, '--concentration-floor', '0.1'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const loaded = await loadGalaxyModel(out);
    assert.equal(loaded.config.concentrationFloor, 0.1);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const raw = await (loaded.model.apply(x, { training: false }) as tf.Tensor).data();
    const { mean } = await predictFractions(loaded, x, 1);
    const [g0] = loaded.space.groups; // t01: smooth, features, star
    for (let i = 0; i < 2; i++) {
      const a = g0!.map((c) => 0.1 + 100 * raw[i * 37 + c]!);
      const total = a.reduce((s, v) => s + v, 0);
      g0!.forEach((c, k) => assert.ok(Math.abs(mean[i * 37 + c]! - a[k]! / total) < 1e-5));
    }
    x.dispose();
    loaded.model.dispose();
  });
});
