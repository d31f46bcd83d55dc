import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { WASM_TRAINING_KERNELS } from '../src/backend/wasm-kernels';
import { replacedKernel } from '../src/backend/onednn';
import { batchNormTraining } from '../src/models/layers/batch-norm';
import { buildEncoder, withDenseHead } from '../src/models/architectures';
import { gradsOn } from './support/gradients';
import { Case, randomCases, randomData, randomPoolCases } from './support/random';
import { relativeError } from '../bench/gradient-check';

async function checkParity(name: string, f: (x: tf.Tensor, w: tf.Tensor, c: Case) => tf.Tensor, cases: Case[]): Promise<void> {
  for (const c of cases) {
    const inputs = [randomData(c.x, 1), randomData(c.f, 2)];
    const loss = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(f(x, w, c)));
    const wasm = await gradsOn('wasm', loss, inputs, [c.x, c.f]);
    const cpu = await gradsOn('cpu', loss, inputs, [c.x, c.f]);
    const label = `${name} x=[${c.x}] f=[${c.f}] stride ${c.stride} ${c.pad}`;
    assert.ok(relativeError(wasm[0]!, cpu[0]!) < 2e-5, `${label}: dx relative error ${relativeError(wasm[0]!, cpu[0]!)}`);
    assert.ok(relativeError(wasm[1]!, cpu[1]!) < 2e-5, `${label}: dW relative error ${relativeError(wasm[1]!, cpu[1]!)}`);
  }
}

describe('wasm training kernels', function () {
  this.timeout(120_000);
  after(() => initBackend('wasm'));

  it('are registered on the wasm backend once it is chosen', async () => {
    await initBackend('wasm');
    for (const k of WASM_TRAINING_KERNELS) {
      // Where the onednn backend has also been loaded, its native kernel sits in front and falls
      // back to galmorph's wasm kernel.
      const registered = tf.getKernel(k.kernelName, 'wasm')?.kernelFunc;
      const fallback = replacedKernel(k.kernelName)?.kernelFunc;
      assert.ok(registered === k.kernelFunc || fallback === k.kernelFunc, `${k.kernelName} is galmorph's`);
    }
  });

  it('conv2d gradients (Conv2DBackpropInput, Conv2DBackpropFilter) match the cpu backend', async () => {
    await checkParity('conv2d', (x, w, c) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), randomCases(7, false, 12));
  });

  it('depthwise gradients (DepthwiseConv2dNativeBackpropInput/Filter) match the cpu backend, multipliers too', async () => {
    await checkParity('depthwise', (x, w, c) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), randomCases(11, true, 12));
  });

  it('conv2d with bias and ReLU (the fused op layers use) has matching gradients', async () => {
    const cases = randomCases(5, false, 4);
    await checkParity(
      'fused conv2d',
      (x, w, c) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: c.stride, pad: c.pad, bias: tf.fill([c.f[3]!], 0.1), activation: 'relu' }),
      cases,
    );
  });

  it('max-pool gradient (MaxPoolGrad) matches the cpu backend, ties after ReLU included', async () => {
    for (const [i, { shape, size, stride, padding, weights }] of randomPoolCases(13, 8).entries()) {
      // ReLU first: whole windows of zeros, where the first maximum must take the gradient
      const loss = (x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.relu(x) as tf.Tensor4D, size, stride, padding), tf.tensor1d(weights)));
      const data = [randomData(shape, 20 + i)];
      const [wasm] = await gradsOn('wasm', loss, data, [shape]);
      const [cpu] = await gradsOn('cpu', loss, data, [shape]);
      assert.deepEqual(Array.from(wasm!), Array.from(cpu!), `maxPool ${size}/${stride} ${padding} on [${shape}]`);
    }
  });

  it('closed-form batch-norm gradient matches autodiff of the textbook formula on cpu', async () => {
    const shape = [3, 5, 4, 6];
    const inputs = [randomData(shape, 3), randomData([6], 4).map((v) => v + 1.5), randomData([6], 5)];
    const shapes = [shape, [6], [6]];
    const ours = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = batchNormTraining(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3);
      r.mean.dispose();
      r.variance.dispose();
      // a loss whose gradient is not uniform, so every term of dx matters
      return tf.sum(tf.mul(tf.square(r.y), tf.linspace(0.5, 2, 6)));
    };
    const reference = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), g), b);
      return tf.sum(tf.mul(tf.square(y), tf.linspace(0.5, 2, 6)));
    };
    const ref = await gradsOn('cpu', reference, inputs, shapes);
    for (const backend of ['cpu', 'wasm']) {
      const got = await gradsOn(backend, ours, inputs, shapes);
      // dx = γ·r/m·(m·dy − dβ − x̂·dγ) cancels terms, and the wasm path sums in another order:
      // float32 round-off reaches a few 1e-5 of the largest value.
      ['dx', 'dgamma', 'dbeta'].forEach((n, i) => assert.ok(relativeError(got[i]!, ref[i]!) < 2e-4, `${backend} ${n}: ${relativeError(got[i]!, ref[i]!)}`));
    }
  });

  it('trains the small CNN on wasm: the loss falls and no tensor leaks', async () => {
    await initBackend('wasm');
    const model = withDenseHead(buildEncoder('smallcnn', { size: 16 }), 2);
    // A learnable task: bright centre (class 1) against dark centre (class 0).
    const n = 32;
    const xs = tf.tidy(() => {
      const base = tf.randomUniform([n, 16, 16, 3], 0, 0.3, 'float32', 1);
      const centre = tf.pad(tf.ones([n / 2, 6, 6, 3]), [[0, n / 2], [5, 5], [5, 5], [0, 0]]);
      return tf.add(base, tf.mul(centre, 0.7));
    });
    const ys = tf.oneHot(tf.tensor1d([...Array(n / 2).fill(1), ...Array(n / 2).fill(0)], 'int32'), 2).toFloat();
    const opt = tf.train.adam(0.01);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 25; step++) {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      losses.push((await loss.data())[0]!);
      loss.dispose();
    }
    // Adam's slots are created on the first step; after that nothing may accumulate.
    const afterFirst = tf.memory().numTensors;
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
    loss.dispose();
    assert.equal(tf.memory().numTensors, afterFirst, 'a training step leaks no tensor');
    assert.ok(afterFirst - before <= model.trainableWeights.length * 2 + 2, 'only optimizer state was added');
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < first * 0.5, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
    tf.dispose([xs, ys]);
    model.dispose();
    opt.dispose();
  });
});
