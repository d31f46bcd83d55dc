import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { compareGradients, modelGradients, relativeError, shortTrainingRun } from '../bench/gradient-check';
import { ADAM, broadcastPattern, loadOnednn, onednnActive, onednnCallCounts, SWISH, SWISH_GRAD } from '../src/backend/onednn';
import { describeBackend, initBackend } from '../src/backend/select';
import { GalmorphBatchNorm, batchNormTraining } from '../src/models/layers/batch-norm';
import { swish } from '../src/models/layers/swish';
import { adam } from '../src/training/optimizer';
import { gradsOn } from './support/gradients';
import { Case, randomCases, randomData, randomPoolCases, rng } from './support/random';

const ROOT = path.resolve(__dirname, '..');

/**
 * dx, dγ, dβ of L = Σ w·y with y = γ·(x − μ)/√(σ² + ε) + β over NHWC data [m, c], in float64:
 * the closed form dx = γ·r/m·(m·dy − Σdy − x̂·Σdy·x̂), dγ = Σdy·x̂, dβ = Σdy, with dy = w.
 * (With a loss like Σ y², dx is zero in exact arithmetic and only round-off is left to compare.)
 */
function batchNormGradsInDoubles(x: Float32Array, g: Float32Array, w: Float32Array, c: number, eps: number): Float32Array[] {
  const m = x.length / c;
  const mean = new Float64Array(c);
  const v = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i]! / m;
  for (let i = 0; i < x.length; i++) v[i % c] += (x[i]! - mean[i % c]!) ** 2 / m;
  const r = Array.from(v, (vk) => 1 / Math.sqrt(vk + eps));
  const xhat = Float64Array.from(x, (xi, i) => (xi - mean[i % c]!) * r[i % c]!);
  const dy = Float64Array.from(w);
  const dBeta = new Float64Array(c);
  const dGamma = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    dBeta[i % c] += dy[i]!;
    dGamma[i % c] += dy[i]! * xhat[i]!;
  }
  const dx = Float32Array.from(dy, (d, i) => {
    const k = i % c;
    return ((g[k]! * r[k]!) / m) * (m * d - dBeta[k]! - xhat[i]! * dGamma[k]!);
  });
  return [dx, Float32Array.from(dGamma), Float32Array.from(dBeta)];
}

/** Runs `f` and returns how many times each named kernel ran natively meanwhile. */
async function nativeRunsDuring(names: string[], f: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = onednnCallCounts();
  await f();
  const after = onednnCallCounts();
  return Object.fromEntries(names.map((n) => [n, (after[n] ?? 0) - (before[n] ?? 0)]));
}

function assertRanNatively(runs: Record<string, number>): void {
  for (const [name, n] of Object.entries(runs)) assert.ok(n > 0, `${name} ran on oneDNN (${n} native calls)`);
}

/** Gradients of `loss` on onednn and on cpu agree (relative `tol`), and the named kernels ran natively. */
async function checkGrads(label: string, loss: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Float32Array[], shapes: number[][], kernels: string[], tol = 1e-5): Promise<void> {
  let ours: Float32Array[] = [];
  const runs = await nativeRunsDuring(kernels, async () => {
    ours = await gradsOn('onednn', loss, inputs, shapes);
  });
  const ref = await gradsOn('cpu', loss, inputs, shapes);
  ref.forEach((r, i) => assert.ok(relativeError(ours[i]!, r) < tol, `${label}: gradient ${i} relative error ${relativeError(ours[i]!, r)}`));
  assertRanNatively(runs);
}

/** Forward values on onednn against cpu. */
async function checkForward(label: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Float32Array[], shapes: number[][], kernels: string[], tol = 1e-5): Promise<void> {
  const run = async (backend: string) => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const xs = inputs.map((v, i) => tf.tensor(v, shapes[i]));
    const y = tf.tidy(() => f(...xs));
    const v = (await y.data()) as Float32Array;
    tf.dispose([y, ...xs]);
    assert.equal(tf.memory().numTensors, before, `${label}: no tensor leaked on ${backend}`);
    return v;
  };
  let ours: Float32Array = new Float32Array();
  const runs = await nativeRunsDuring(kernels, async () => {
    ours = await run('onednn');
  });
  const ref = await run('cpu');
  assert.equal(ours.length, ref.length);
  assert.ok(relativeError(ours, ref) < tol, `${label}: relative error ${relativeError(ours, ref)}`);
  assertRanNatively(runs);
}

describe('onednn backend (native kernels on oneDNN)', function () {
  this.timeout(300_000);
  let unavailable: string | undefined;

  before(function () {
    try {
      loadOnednn();
    } catch (err) {
      unavailable = err instanceof Error ? err.message : String(err);
      console.log(`    skipped: the oneDNN addon is not available here (${unavailable}); galmorph runs on wasm`);
      this.skip();
    }
  });
  after(async () => {
    if (!unavailable) await initBackend('wasm');
  });

  it('GALMORPH_BACKEND=onednn activates it and the backend line names oneDNN and its threads', async () => {
    const choice = await initBackend('onednn');
    assert.equal(choice.name, 'onednn');
    assert.equal(tf.getBackend(), 'wasm');
    assert.ok(onednnActive());
    assert.match(describeBackend(choice), /^backend: onednn \(wasm\+onednn, oneDNN \d+\.\d+\.\d+ \w+ \w+, tfjs [\d.]+, \d+ threads?\)/);
  });

  it('conv2d forward (plain, and fused with bias and ReLU) matches the cpu backend on random shapes', async () => {
    for (const c of randomCases(3, false, 10)) {
      const label = `conv2d x=[${c.x}] f=[${c.f}] stride ${c.stride} ${c.pad}`;
      await checkForward(label, (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), [randomData(c.x, 1), randomData(c.f, 2)], [c.x, c.f], ['Conv2D']);
      await checkForward(
        `fused ${label}`,
        (x, w, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: c.stride, pad: c.pad, bias: b, activation: 'relu' }),
        [randomData(c.x, 3), randomData(c.f, 4), randomData([c.f[3]!], 5)],
        [c.x, c.f, [c.f[3]!]],
        ['FusedConv2D'],
      );
    }
  });

  /** Gradients of Σ op(x, w)² on random shapes, with the kernels that must have run natively. */
  const convGrads = async (name: string, op: (x: tf.Tensor4D, w: tf.Tensor4D, c: Case) => tf.Tensor, cases: Case[], kernels: string[]) => {
    for (const c of cases) {
      const loss = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(op(x as tf.Tensor4D, w as tf.Tensor4D, c)));
      await checkGrads(`${name} x=[${c.x}] f=[${c.f}] stride ${c.stride} ${c.pad}`, loss, [randomData(c.x, 1), randomData(c.f, 2)], [c.x, c.f], kernels);
    }
  };

  it('conv2d gradients (Conv2DBackpropInput, Conv2DBackpropFilter) match the cpu backend', async () => {
    await convGrads('conv2d', (x, w, c) => tf.conv2d(x, w, c.stride, c.pad), randomCases(7, false, 12), ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });

  it('depthwise forward and gradients match the cpu backend, channel multipliers included', async () => {
    const kernels = ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'];
    await convGrads('depthwise', (x, w, c) => tf.depthwiseConv2d(x, w, c.stride, c.pad), randomCases(11, true, 12), kernels);
    const c = { x: [2, 7, 6, 4], f: [3, 3, 4, 2] };
    await checkForward(
      'fused depthwise with bias and ReLU',
      (x, w, b) => tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
      [randomData(c.x, 6), randomData(c.f, 7), randomData([8], 8)],
      [c.x, c.f, [8]],
      ['FusedDepthwiseConv2D'],
    );
  });

  it('max and average pooling forward and gradients match the cpu backend, ties after ReLU included', async () => {
    for (const [i, { shape, size, stride, padding, weights }] of randomPoolCases(13, 8).entries()) {
      const label = `pool ${size}/${stride} ${padding} on [${shape}]`;
      // ReLU first: whole windows of zeros, where the first maximum must take the gradient (as tfjs)
      await checkGrads(
        `max ${label}`,
        (x) => tf.sum(tf.mul(tf.maxPool(tf.relu(x) as tf.Tensor4D, size, stride, padding), tf.tensor1d(weights))),
        [randomData(shape, 20 + i)],
        [shape],
        ['MaxPool', 'MaxPoolGrad'],
        1e-6,
      );
      const avgInputs = [randomData(shape, 40 + i)];
      const avgLoss = (x: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(x as tf.Tensor4D, size, stride, padding), tf.tensor1d(weights)));
      await checkForward(`avg ${label}`, (x) => tf.avgPool(x as tf.Tensor4D, size, stride, padding), avgInputs, [shape], ['AvgPool']);
      // tfjs's own AvgPoolGrad (cpu and wasm) divides every window by kh·kw, also where its
      // forward pass averaged fewer pixels (a window over the padding): not the gradient of its
      // forward. oneDNN's is; the reference here is the same average written without padding
      // (zero-pad, valid pooling, divide by the pixels each window covers), differentiated on cpu.
      const exact = (x: tf.Tensor) => {
        const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], size, stride, 1, padding);
        const { top, bottom, left, right } = info.padInfo;
        const pads: [number, number][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
        const sums = tf.mul(tf.avgPool(tf.pad(x as tf.Tensor4D, pads), size, stride, 'valid'), size * size);
        const counts = tf.mul(tf.avgPool(tf.pad(tf.onesLike(x) as tf.Tensor4D, pads), size, stride, 'valid'), size * size);
        return tf.sum(tf.mul(tf.div(sums, counts), tf.tensor1d(weights)));
      };
      let ours: Float32Array[] = [];
      const runs = await nativeRunsDuring(['AvgPoolGrad'], async () => {
        ours = await gradsOn('onednn', avgLoss, avgInputs, [shape]);
      });
      assertRanNatively(runs);
      const [ref] = await gradsOn('cpu', exact, avgInputs, [shape]);
      assert.ok(relativeError(ours[0]!, ref!) < 1e-5, `avg ${label}: gradient relative error ${relativeError(ours[0]!, ref!)}`);
    }
  });

  it('matrix products (transposes, batches, fused bias and ReLU) and their gradients match the cpu backend', async () => {
    const r = rng(17);
    for (let i = 0; i < 8; i++) {
      const [m, k, n] = [1 + Math.floor(r() * 9), 1 + Math.floor(r() * 9), 1 + Math.floor(r() * 9)];
      const ta = i % 2 === 1;
      const tb = i % 4 >= 2;
      const batch = i < 4 ? [] : [2 + Math.floor(r() * 2)];
      const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
      const bShape = [...batch, ...(tb ? [n, k] : [k, n])];
      const label = `matmul a=[${aShape}]${ta ? 'ᵀ' : ''} b=[${bShape}]${tb ? 'ᵀ' : ''}`;
      await checkGrads(label, (a, b) => tf.sum(tf.square(tf.matMul(a!, b!, ta, tb))), [randomData(aShape, 50 + i), randomData(bShape, 60 + i)], [aShape, bShape], ['BatchMatMul']);
      if (batch.length === 0) {
        await checkForward(
          `fused ${label}`,
          (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: ta, transposeB: tb, bias, activation: 'relu' }),
          [randomData(aShape, 70 + i), randomData(bShape, 80 + i), randomData([n], 90 + i)],
          [aShape, bShape, [n]],
          ['_FusedMatMul'],
        );
      }
    }
  });

  it('ReLU and same-shape products, sums and differences of large tensors match the cpu backend', async () => {
    const shape = [2, 32, 32, 9]; // above the size where the native path starts
    const inputs = [randomData(shape, 31), randomData(shape, 32)];
    for (const [name, op] of [['Relu', (a: tf.Tensor) => tf.relu(a)], ['Multiply', tf.mul], ['Add', tf.add], ['Sub', tf.sub]] as const) {
      await checkForward(name, (a, b) => (op as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(a!, b!), inputs, [shape, shape], [name], 1e-7);
    }
    // and their gradients, through a loss that uses all four
    // (ReLU's gradient is dy · cast(step(x)): Step runs natively, the same-dtype Cast shares the data)
    await checkGrads('element-wise', (a, b) => tf.sum(tf.mul(tf.relu(tf.sub(a!, b!)), tf.add(a!, b!))), inputs, [shape, shape], ['Relu', 'Multiply', 'Add', 'Sub', 'Step', 'Cast']);
    await checkForward('step with alpha', (a) => tf.step(a!, 0.25), [inputs[0]!], [shape], ['Step'], 1e-12);
  });

  it('broadcast products, sums, differences and quotients (scalar, per channel, per image and channel) match the cpu backend', async () => {
    const shape = [3, 16, 16, 40];
    const x = randomData(shape, 41);
    // Divisors kept away from zero: a relative comparison of quotients near a pole says nothing.
    const positive = (n: number[], seed: number) => randomData(n, seed).map((v) => 0.5 + Math.abs(v));
    const cases: [string, number[]][] = [
      ['scalar', [1]],
      ['per channel', [40]],
      ['per image and channel', [3, 1, 1, 40]],
      ['per row', [3, 16, 1, 1]],
    ];
    for (const [label, small] of cases) {
      const y = positive(small, 42);
      for (const [name, op] of [['Multiply', tf.mul], ['Add', tf.add], ['Sub', tf.sub], ['RealDiv', tf.div]] as const) {
        await checkForward(`${name} ${label}`, (a, b) => op(a!, b!), [x, y], [shape, small], [name], 1e-6);
        // the broadcast operand first: a − b and a / b are not symmetric
        await checkForward(`${name} ${label}, reversed`, (a, b) => op(b!, a!), [positive(shape, 43), y], [shape, small], [name], 1e-6);
      }
    }
    assert.deepEqual(broadcastPattern([3, 16, 16, 40], [3, 1, 1, 40]), [3, 256, 40]);
    assert.deepEqual(broadcastPattern([3, 16, 16, 40], [40]), [1, 768, 40]);
    assert.equal(broadcastPattern([3, 16, 16, 40], [3, 1, 16, 1]), undefined, 'two runs of broadcast axes stay on wasm');
    // gradients through a squeeze-and-excitation-like scale: dx broadcast, d(scale) a sum over H, W
    await checkGrads('broadcast scale', (a, b) => tf.sum(tf.mul(tf.mul(a!, b!), a!)), [x, randomData([3, 1, 1, 40], 44)], [shape, [3, 1, 1, 40]], ['Multiply', 'Sum'], 1e-5);
  });

  it("minima and maxima (tfjs-layers' ReLU6 is min(6, relu(x))) match the cpu backend exactly, NaN included", async () => {
    const shape = [2, 24, 24, 32];
    // NaN in either operand must give NaN, as on cpu (Math.min / Math.max)
    const x = randomData(shape, 45).map((v, i) => (i % 997 === 0 ? NaN : 8 * v));
    const y = randomData(shape, 46).map((v, i) => (i % 1009 === 0 ? NaN : 8 * v));
    const channel = randomData([32], 47);
    const valuesOn = async (backend: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => {
      await initBackend(backend);
      const [a, b] = [tf.tensor(x, shape), tf.tensor(y, shape)];
      const out = tf.tidy(() => f(a, b));
      const v = (await out.data()) as Float32Array;
      tf.dispose([a, b, out]);
      return v;
    };
    for (const [name, op] of [['Minimum', tf.minimum], ['Maximum', tf.maximum]] as const) {
      const cases: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
        ['same shape', (a, b) => op(a, b)],
        ['scalar', (a) => op(a, 6)],
        ['scalar first', (a) => op(-1, a)],
        ['per channel', (a) => op(a, tf.tensor(channel, [32]))],
      ];
      for (const [label, f] of cases) {
        let ours: Float32Array = new Float32Array();
        const runs = await nativeRunsDuring([name], async () => {
          ours = await valuesOn('onednn', f);
        });
        const ref = await valuesOn('cpu', f);
        assertRanNatively(runs);
        assert.ok(ref.some((v) => Number.isNaN(v)), `${name} ${label}: the case has NaNs to compare`);
        const bad = ref.findIndex((r, i) => !Object.is(r, ours[i]) && !(r === 0 && ours[i] === 0));
        assert.equal(bad, -1, `${name} ${label}: element ${bad} is ${ours[bad]}, cpu gives ${ref[bad]}`);
      }
    }
    // MobileNetV2's activation as tfjs-layers builds it, and its gradient
    const relu6 = tf.layers.activation({ activation: 'relu6' });
    const finite = randomData(shape, 48).map((v) => 8 * v);
    await checkForward('relu6 layer', (a) => relu6.apply(a!) as tf.Tensor, [finite], [shape], ['Relu', 'Minimum'], 1e-12);
    await checkGrads('relu6 layer', (a) => tf.sum(tf.mul(relu6.apply(a!) as tf.Tensor, a!)), [finite], [shape], ['Relu', 'Minimum'], 1e-6);
  });

  it('sums and means over contiguous axes, and sigmoid, match the cpu backend', async () => {
    const shape = [4, 12, 12, 96];
    const x = randomData(shape, 51);
    for (const [axes, keep] of [[[1, 2], false], [[1, 2], true], [[0, 1, 2], false], [[0], false], [[3], true], [[-1], false]] as [number[], boolean][]) {
      await checkForward(`sum ${axes}`, (a) => tf.sum(a!, axes, keep), [x], [shape], ['Sum'], 1e-5);
      await checkForward(`mean ${axes}`, (a) => tf.mean(a!, axes, keep), [x], [shape], ['Mean'], 1e-5);
    }
    await checkForward('sigmoid', (a) => tf.sigmoid(tf.mul(a!, 8)), [x], [shape], ['Sigmoid'], 1e-6);
    await checkGrads('sigmoid', (a) => tf.sum(tf.mul(tf.sigmoid(a!), a!)), [x], [shape], ['Sigmoid'], 1e-5);
  });

  it('swish (one native pass each way) matches x·sigmoid(x) and its gradient on the cpu backend', async () => {
    const shape = [2, 20, 20, 48];
    const x = randomData(shape, 61).map((v) => 6 * v);
    await checkForward('swish', (a) => swish(a!), [x], [shape], [SWISH], 1e-6);
    await checkGrads('swish', (a) => tf.sum(tf.mul(swish(a!), tf.cos(a!))), [x], [shape], [SWISH, SWISH_GRAD], 1e-5);
  });

  it("galmorph's Adam (one native pass per variable) follows tfjs's Adam on cpu step by step, with the same saved state", async () => {
    const shapes = [[3, 3, 8, 16], [16], [40000]];
    const init = shapes.map((s, i) => randomData(s, 70 + i));
    const gradsAt = (step: number) => shapes.map((s, i) => randomData(s, 80 + 10 * step + i).map((g) => g * (i + 1)));
    const run = async (backend: string, make: () => tf.Optimizer) => {
      await initBackend(backend);
      const vars = init.map((v, i) => tf.variable(tf.tensor(v, shapes[i]), true, `adam_test_${backend}_${i}`));
      const opt = make();
      let afterFirst = 0;
      for (let step = 0; step < 4; step++) {
        const grads = gradsAt(step).map((g, i) => tf.tensor(g, shapes[i]));
        opt.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, grads[i]!])));
        tf.dispose(grads);
        if (step === 0) afterFirst = tf.memory().numTensors;
      }
      // (tfjs's own Adam keeps one tensor past dispose(), so the check is per step: nothing grows.)
      assert.equal(tf.memory().numTensors, afterFirst, `no tensor leaked per step on ${backend}`);
      const values = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
      const saved = await opt.getWeights();
      const state = { names: saved.map((w) => w.name.replace(backend, '')), data: await Promise.all(saved.map((w) => w.tensor.data() as Promise<Float32Array>)) };
      opt.dispose();
      // getWeights makes a new scalar for the iteration count; the rest are the optimizer's variables.
      tf.dispose(saved.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
      tf.dispose(vars);
      return { values, state };
    };
    let ours!: Awaited<ReturnType<typeof run>>;
    const runs = await nativeRunsDuring([ADAM], async () => {
      ours = await run('onednn', () => adam(0.01));
    });
    const ref = await run('cpu', () => tf.train.adam(0.01));
    assertRanNatively(runs);
    ref.values.forEach((r, i) => assert.ok(relativeError(ours.values[i]!, r) < 1e-6, `variable ${i}: relative error ${relativeError(ours.values[i]!, r)}`));
    assert.deepEqual(ours.state.names, ref.state.names, 'the same optimizer weights, in the same order');
    ref.state.data.forEach((r, i) => assert.ok(relativeError(ours.state.data[i]!, r) < 1e-6, `optimizer weight ${ref.state.names[i]}: relative error ${relativeError(ours.state.data[i]!, r)}`));
  });

  it('batch norm (training: native statistics, gradient sums, affine maps) matches the textbook gradient in double precision', async () => {
    for (const shape of [[3, 5, 4, 6], [2, 9, 7, 33]]) {
      const c = shape[3]!;
      // |mean| > std: the case where uncentred sums lose digits
      const inputs = [randomData(shape, 3).map((v) => v * 3 + 5), randomData([c], 4).map((v) => v + 1.5), randomData([c], 5)];
      const shapes = [shape, [c], [c]];
      const w = randomData(shape, 6);
      const ours = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const res = batchNormTraining(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3);
        res.mean.dispose();
        res.variance.dispose();
        return tf.sum(tf.mul(res.y, tf.tensor(w, shape)));
      };
      const ref = batchNormGradsInDoubles(inputs[0]!, inputs[1]!, w, c, 1e-3);
      const before = onednnCallCounts();
      const got = await gradsOn('onednn', ours, inputs, shapes);
      const after = onednnCallCounts();
      for (const k of ['GalmorphBnStats', 'GalmorphBnBackwardSums', 'GalmorphBnAffine']) assert.ok((after[k] ?? 0) > (before[k] ?? 0), `${k} ran natively`);
      ['dx', 'dgamma', 'dbeta'].forEach((n, i) => assert.ok(relativeError(got[i]!, ref[i]!) < 1e-4, `[${shape}] ${n}: ${relativeError(got[i]!, ref[i]!)}`));
    }
  });

  it('gradients through a batch norm at inference (fine-tuning an unfrozen top block) match the cpu backend', async () => {
    const shape = [2, 12, 12, 24];
    const c = shape[3]!;
    const x = randomData(shape, 91);
    const w = randomData(shape, 96);
    const weights = [randomData([c], 92), randomData([c], 93), randomData([c], 94), randomData([c], 95).map((v) => 0.5 + Math.abs(v))];
    // dL/dx, dL/dγ, dL/dβ of L = Σ w·BN(x) with moving statistics (on onednn: BN_AFFINE and its gradient)
    const run = async (backend: string) => {
      await initBackend(backend);
      const layer = new GalmorphBatchNorm({});
      layer.build(shape);
      layer.setWeights(weights.map((v) => tf.tensor1d(v)));
      const before = tf.memory().numTensors;
      const [xt, wt] = [tf.tensor(x, shape), tf.tensor(w, shape)];
      const f = (input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: false }) as tf.Tensor, wt));
      const dx = tf.grad(f)(xt);
      const { value, grads } = tf.variableGrads(() => f(xt) as tf.Scalar, layer.trainableWeights.map((v) => v.read() as tf.Variable));
      const out = await Promise.all([dx, ...Object.values(grads)].map((t) => t.data() as Promise<Float32Array>));
      tf.dispose([xt, wt, dx, value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before, `no tensor leaked on ${backend}`);
      tf.dispose(layer.weights.map((v) => v.read()));
      return out;
    };
    let ours: Float32Array[] = [];
    const runs = await nativeRunsDuring(['GalmorphBnAffine'], async () => {
      ours = await run('onednn');
    });
    const ref = await run('cpu');
    assertRanNatively(runs);
    assert.equal(ours.length, 3);
    ref.forEach((r, i) => assert.ok(relativeError(ours[i]!, r) < 1e-5, `gradient ${i} relative error ${relativeError(ours[i]!, r)}`));
  });

  it('batch norm at inference (moving statistics) matches tf.batchNorm on cpu', async () => {
    const shape = [2, 5, 5, 7];
    const run = async (backend: string) => {
      await initBackend(backend);
      const layer = new GalmorphBatchNorm({ name: `bn_inference_${backend}` });
      layer.build(shape);
      const ws = [randomData([7], 1).map((v) => v + 1.2), randomData([7], 2), randomData([7], 3), randomData([7], 4).map((v) => v + 1.5)];
      layer.setWeights(ws.map((w) => tf.tensor1d(w)));
      const x = tf.tensor(randomData(shape, 5), shape);
      const before = tf.memory().numTensors;
      const y = layer.apply(x, { training: false }) as tf.Tensor;
      const v = (await y.data()) as Float32Array;
      y.dispose();
      assert.equal(tf.memory().numTensors, before, `no tensor leaked on ${backend}`);
      x.dispose();
      return v;
    };
    const ours = await run('onednn');
    const ref = await run('cpu');
    assert.ok(relativeError(ours, ref) < 1e-5, `relative error ${relativeError(ours, ref)}`);
  });

  for (const [arch, size, tol, tolText] of [['smallcnn', 32, 1e-4, '1e-4'], ['galmorph-cnn', 32, 1e-4, '1e-4'], ['efficientnet-b0', 32, 1e-3, '1e-3']] as const) {
    it(`${arch} at ${size} px: every weight's gradient matches the cpu backend (relative ${tolText})`, async () => {
      const ref = await modelGradients('cpu', arch, size, 4);
      let got!: Awaited<ReturnType<typeof modelGradients>>;
      const runs = await nativeRunsDuring(['FusedConv2D', 'Conv2DBackpropFilter', 'GalmorphBnStats'], async () => {
        got = await modelGradients('onednn', arch, size, 4, ref.weights);
      });
      assertRanNatively(runs);
      assert.equal(got.leaked, 0, 'no tensor leaked');
      assert.equal(got.grads.length, ref.grads.length);
      assert.ok(Math.abs(got.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss), `loss ${got.loss} against ${ref.loss}`);
      const c = compareGradients(got, ref, tol);
      assert.deepEqual(c.failures, [], `worst ${c.worst} at ${c.worstName}`);
      assert.ok(c.compared + c.nearZero === ref.grads.length);
    });
  }

  it('trains: the loss of a small CNN falls over 20 Adam steps, with no tensor leaked', async () => {
    await initBackend('onednn');
    const { losses, liveAfterSecond, liveAtEnd } = await shortTrainingRun(20);
    assert.equal(liveAtEnd, liveAfterSecond, 'tensors alive after step 2 and after step 20');
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < first * 0.7, `loss fell from ${first.toFixed(4)} to ${last.toFixed(4)}`);
  });

  it('GALMORPH_BACKEND=wasm in the same process switches the native kernels off (plain wasm kernels)', async () => {
    const choice = await initBackend('wasm');
    assert.equal(choice.name, 'wasm');
    assert.ok(!onednnActive());
    const runs = await nativeRunsDuring(['Conv2D'], async () => {
      const y = tf.tidy(() => tf.conv2d(tf.ones([1, 5, 5, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same'));
      assert.equal((await y.data())[12], 18);
      y.dispose();
    });
    assert.equal(runs.Conv2D, 0, 'no native call on plain wasm');
  });

  it('also runs after plain wasm started multi-threaded in the same process (on its shared heap)', () => {
    const script = [
      "const tf = require('@tensorflow/tfjs');",
      "const s = require('./src/backend/select');",
      "const o = require('./src/backend/onednn');",
      '(async () => {',
      "  const w = await s.initBackend('wasm');",
      "  const c = await s.initBackend('onednn');",
      "  const y = tf.conv2d(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 2, 1]), 1, 'same');",
      '  const v = await y.data();',
      '  console.log(JSON.stringify({ wasmThreads: w.threads, name: c.name, corner: v[0], centre: v[12], native: o.onednnCallCounts().Conv2D }));',
      '})();',
    ].join('\n');
    const env: NodeJS.ProcessEnv = { ...process.env, GALMORPH_WASM_THREADS: '2' };
    delete env.GALMORPH_BACKEND;
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual(out, { wasmThreads: 2, name: 'onednn', corner: 8, centre: 18, native: 1 });
  });

  it('without the addon (a missing .node) the automatic choice falls back to wasm and says why; forcing onednn fails clearly', () => {
    const script = [
      "const s = require('./src/backend/select');",
      '(async () => {',
      '  const c = await s.initBackend();',
      "  let forced = '';",
      "  try { await s.initBackend('onednn'); } catch (e) { forced = e.message; }",
      '  console.log(JSON.stringify({ name: c.name, reason: c.reason, forced }));',
      '})();',
    ].join('\n');
    const env: NodeJS.ProcessEnv = { ...process.env, GALMORPH_ONEDNN_ADDON: path.join(ROOT, 'native', 'onednn', 'build', 'missing', 'galmorph_onednn.node') };
    delete env.GALMORPH_BACKEND;
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; reason: string; forced: string };
    assert.equal(out.name, 'wasm');
    assert.match(out.reason, /onednn: addon not built \(.*missing/);
    assert.match(out.forced, /GALMORPH_BACKEND=onednn was asked for, but it is not available: addon not built/);
  });
});
