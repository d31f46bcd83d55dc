import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { installLeanGradients, uninstallLeanGradients } from '../src/backend/lean-gradients';
import { buildEncoder, ENCODERS, encoderSpec, withDenseHead } from '../src/models/architectures';
import { trainStep } from '../src/training/step';
import { learningRateAt } from '../src/training/train-galaxy';
import { MonteCarloDropout, withoutMonteCarloDropout } from '../src/models/layers/mc-dropout';
import { projectRoot } from '../src/paths';
import { encoderBlocks } from '../src/finetune/blocks';
import { ROTATION_MODES, seededRng } from '../src/data/augment';
import { augmentTransform } from '../src/data/augment-batch';

const mse = (t: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(t, p) as tf.Scalar;

describe('training machinery', function () {
  this.timeout(180_000);
  before(() => initBackend('wasm'));

  it('lean backprop gives the same gradients as tfjs and holds less memory at its peak', async () => {
    const model = withDenseHead(buildEncoder('smallcnn', { size: 24 }), 5);
    const x = tf.randomNormal([4, 24, 24, 3], 0, 1, 'float32', 1);
    const y = tf.randomNormal([4, 5], 0, 1, 'float32', 2);
    const run = async () => {
      let grads: Float32Array[] = [];
      // The profile's peak counts every byte already held (other tests' models included): measure
      // what the backward pass itself adds on top.
      const held = tf.memory().numBytes;
      const prof = await tf.profile(async () => {
        const { value, grads: g } = tf.variableGrads(() => mse(y, model.apply(x, { training: true }) as tf.Tensor));
        grads = await Promise.all(Object.values(g).map((t) => t.data() as Promise<Float32Array>));
        tf.dispose([value, ...Object.values(g)]);
      });
      return { grads, peak: prof.peakBytes - held };
    };
    const lean = await run();
    uninstallLeanGradients();
    let stock: Awaited<ReturnType<typeof run>>;
    try {
      stock = await run();
    } finally {
      installLeanGradients();
    }
    assert.equal(lean.grads.length, stock.grads.length);
    lean.grads.forEach((g, i) => g.forEach((v, j) => assert.ok(Math.abs(v - stock.grads[i]![j]!) <= 1e-6 * (1 + Math.abs(v)), `grad ${i}[${j}]`)));
    assert.ok(lean.peak < stock.peak * 0.8, `peak ${lean.peak} bytes against tfjs's ${stock.peak}`);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('a step over micro-batches applies the full-batch gradient (model without batch norm)', async () => {
    const build = () => {
      const input = tf.input({ shape: [6] });
      const h = tf.layers.dense({ units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const x = tf.randomNormal([10, 6], 0, 1, 'float32', 3);
    const y = tf.randomNormal([10, 2], 0, 1, 'float32', 4);
    const whole = build();
    const split = build();
    const lossWhole = await trainStep(whole, tf.train.sgd(0.1), x, y, mse);
    const lossSplit = await trainStep(split, tf.train.sgd(0.1), x, y, mse, { microBatch: 3 });
    assert.ok(Math.abs(lossWhole - lossSplit) < 1e-5, `losses ${lossWhole} and ${lossSplit}`);
    const a = whole.getWeights().map((w) => w.dataSync());
    const b = split.getWeights().map((w) => w.dataSync());
    a.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-5, `weight ${i}[${j}]`)));
    await assert.rejects(trainStep(whole, tf.train.sgd(0.1), x, y, mse, { microBatch: 0 }), /microBatch must be a positive integer/);
    tf.dispose([x, y]);
  });

  for (const name of Object.keys(ENCODERS)) {
    it(`${name} trains on wasm (every gradient kernel present) without leaking tensors`, async () => {
      const size = name === 'efficientnet-b0' ? 32 : 24;
      const model = withDenseHead(buildEncoder(name, { size }), 3);
      const opt = tf.train.adam(1e-3);
      const x = tf.randomNormal([2, size, size, 3]);
      const y = tf.randomNormal([2, 3]);
      await trainStep(model, opt, x, y, mse); // creates the optimizer's slots
      const before = tf.memory().numTensors;
      const loss = await trainStep(model, opt, x, y, mse, { microBatch: 1 });
      assert.ok(Number.isFinite(loss));
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, y]);
      model.dispose();
      opt.dispose();
    });
  }

  it('galmorph-cnn-wide differs from galmorph-cnn only in its last two widths (512-d representation, same block names)', () => {
    const narrow = buildEncoder('galmorph-cnn', { size: 32 });
    const wide = buildEncoder('galmorph-cnn-wide', { size: 32 });
    assert.deepEqual(narrow.outputs[0]!.shape, [null, 256]);
    assert.deepEqual(wide.outputs[0]!.shape, [null, 512]);
    assert.deepEqual(wide.layers.map((l) => l.name), narrow.layers.map((l) => l.name));
    const filters = (m: tf.LayersModel) => m.layers.filter((l) => l.name.endsWith('_conv')).map((l) => (l.getConfig() as { filters: number }).filters);
    assert.deepEqual(filters(narrow), [32, 64, 128, 192, 256]);
    assert.deepEqual(filters(wide), [32, 64, 128, 256, 512]);
    narrow.dispose();
    wide.dispose();
  });

  it('galmorph-cnn-deep has two convolutions per block of galmorph-cnn (the same widths, 256-d) and block names fine-tuning finds', () => {
    const deep = buildEncoder('galmorph-cnn-deep', { size: 32 });
    assert.deepEqual(deep.outputs[0]!.shape, [null, 256]);
    const filters = deep.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => (l.getConfig() as { filters: number }).filters);
    assert.deepEqual(filters, [32, 32, 64, 64, 128, 128, 192, 192, 256, 256]);
    assert.deepEqual(encoderBlocks(deep).map((b) => b.name), ['block1', 'block2', 'block3', 'block4', 'block5']);
    deep.dispose();
  });

  it('quarter-turn augmentation rotates by multiples of 90 degrees only; the default by any angle', () => {
    const rng = seededRng(5);
    const angleOf = (t: number[]) => Math.round((Math.atan2(t[3]!, t[0]!) * 180) / Math.PI);
    const quarter = Array.from({ length: 200 }, () => augmentTransform(100, 100, 64, rng, { rotation: 'quarter-turns', flip: false, cropScale: null }));
    const angles = new Set(quarter.map((t) => ((angleOf(t) % 360) + 360) % 360));
    assert.deepEqual([...angles].sort((a, b) => a - b), [0, 90, 180, 270], 'all four turns, nothing else');
    const any = Array.from({ length: 50 }, () => augmentTransform(100, 100, 64, rng, { flip: false, cropScale: null }));
    assert.ok(any.some((t) => Math.abs(angleOf(t)) % 90 !== 0), 'the default draws other angles');
    assert.deepEqual(ROTATION_MODES, ['any', 'quarter-turns']);
  });

  it('the cosine learning-rate schedule warms up linearly, peaks at the base rate and ends at zero', () => {
    const total = 1000; // warm-up: the first 30 steps
    assert.equal(learningRateAt('constant', 1e-3, 500, total), 1e-3);
    assert.ok(Math.abs(learningRateAt('cosine', 1e-3, 0, total) - 1e-3 / 30) < 1e-12);
    assert.ok(Math.abs(learningRateAt('cosine', 1e-3, 29, total) - 1e-3) < 1e-12);
    assert.ok(Math.abs(learningRateAt('cosine', 1e-3, 30 + 485, total) - 0.5e-3) < 1e-12, 'half-way through the decay: half the rate');
    assert.ok(learningRateAt('cosine', 1e-3, total, total) < 1e-12);
    const rates = Array.from({ length: total - 30 }, (_, t) => learningRateAt('cosine', 1e-3, 30 + t, total));
    assert.ok(rates.every((r, i) => i === 0 || r <= rates[i - 1]!), 'never rises after the warm-up');
  });

  it("the validation loss is deterministic: Monte Carlo dropout passes through inside withoutMonteCarloDropout and its later masks are unchanged", async () => {
    await initBackend('cpu');
    const x = tf.ones([4, 64]);
    const sample = async (layer: MonteCarloDropout) => (await (layer.apply(x) as tf.Tensor).data()) as Float32Array;
    const a = new MonteCarloDropout({ rate: 0.5, seed: 3 });
    const b = new MonteCarloDropout({ rate: 0.5, seed: 3 });
    const first = await sample(a);
    await sample(b);
    const passed = await withoutMonteCarloDropout(() => sample(b));
    assert.ok(passed.every((v) => v === 1), 'no mask inside');
    assert.ok(first.some((v) => v === 0), 'masks outside');
    assert.deepEqual(await sample(b), await sample(a), 'the next mask is the one it would have been');
    x.dispose();
  });

  it('names the valid architectures when given an unknown one', () => {
    assert.throws(() => encoderSpec('resnet50'), /unknown architecture 'resnet50'. Valid choices: galmorph-cnn, galmorph-cnn-deep, galmorph-cnn-wide, mobilenetv2-imagenet, smallcnn, efficientnet-b0/);
    assert.throws(() => buildEncoder('mobilenetv2-imagenet', { channels: 1 }), /mobilenetv2-imagenet takes 3-channel \(RGB\) images, not 1/);
    assert.throws(() => buildEncoder('smallcnn', { channels: 2 }), /channels must be 1 \(greyscale\) or 3 \(RGB\)/);
  });

  it('the wasm backend runs multi-threaded in Node, and GALMORPH_WASM_THREADS=1 turns it off', () => {
    const probe = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['-e', "require('./dist/src/index.js').initBackend('wasm').then(c => console.log(c.threads))"], {
        cwd: projectRoot(),
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 60_000,
      });
    const two = probe({ GALMORPH_WASM_THREADS: '2' });
    assert.equal(two.status, 0, two.stderr);
    assert.equal(two.stdout.trim(), '2', 'two XNNPACK threads, and the process exits on its own');
    const one = probe({ GALMORPH_WASM_THREADS: '1' });
    assert.equal(one.stdout.trim(), '1');
    const bad = probe({ GALMORPH_WASM_THREADS: 'lots' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /GALMORPH_WASM_THREADS must be an integer from 1 to 8, got 'lots'/);
    assert.ok(path.isAbsolute(projectRoot()));
  });
});
