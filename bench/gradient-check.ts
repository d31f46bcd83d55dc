/**
 * Backend checks shared by the test suite (test/webgpu.test.ts) and the GPU kit's check
 * (bench/webgpu-check.ts): the gradients of a whole encoder + head on one backend against another,
 * and a short training run. Every read is asynchronous, so any backend can be checked.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { buildEncoder, withDenseHead } from '../src/models/architectures';
import { adam } from '../src/training/optimizer';
import { trainStep } from '../src/training/step';

const mse = (t: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(t, p) as tf.Scalar;

/** Deterministic values in [-1, 1) (a linear congruential generator), the same on every backend. */
export function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) | 0;
    out[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
  }
  return out;
}

export interface ModelGradients {
  /** Trainable weights in model order (names carry tfjs's per-process suffixes). */
  names: string[];
  /** Every weight's initial value, in `getWeights()` order (to start another backend from). */
  weights: Float32Array[];
  grads: Float32Array[];
  loss: number;
  /** Tensors alive after the pass minus before it (0 unless something leaked). */
  leaked: number;
}

/**
 * One forward + backward pass of `arch` with a 5-output dense head (training mode: batch norm on
 * batch statistics) on `backend`, from the given weights or fresh ones, on fixed inputs.
 */
export async function modelGradients(backend: string, arch: string, size: number, batch: number, weights?: Float32Array[]): Promise<ModelGradients> {
  await initBackend(backend);
  const before = tf.memory().numTensors;
  const model = withDenseHead(buildEncoder(arch, { size }), 5);
  if (weights) {
    const ts = model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape));
    model.setWeights(ts);
    tf.dispose(ts);
  }
  const init = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const x = tf.tensor(seededValues(batch * size * size * 3, 11), [batch, size, size, 3]);
  const y = tf.tensor(seededValues(batch * 5, 12), [batch, 5]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => mse(y, model.apply(x, { training: true }) as tf.Tensor), vars);
  const names = Object.keys(grads);
  const g = await Promise.all(names.map((k) => grads[k]!.data() as Promise<Float32Array>));
  const loss = (await value.data())[0]!;
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return { names, weights: init, grads: g, loss, leaked: tf.memory().numTensors - before };
}

const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/** Largest absolute difference relative to the reference's largest magnitude. */
export function relativeError(a: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

export interface GradientComparison {
  /** Worst relative error over the gradients that have a scale of their own. */
  worst: number;
  worstName: string;
  /** Gradients over the tolerance, with their errors. */
  failures: { name: string; error: number; kind: 'relative' | 'absolute' }[];
  compared: number;
  /** Gradients that are zero up to rounding in the reference, compared in absolute terms. */
  nearZero: number;
}

/**
 * Compares gradients tensor by tensor. A gradient that is zero up to rounding in the reference
 * (the shift of a batch norm whose output reaches the loss only through another batch norm) has no
 * scale of its own: it must differ by less than 1e-5 of the largest gradient of the model.
 */
export function compareGradients(got: ModelGradients, ref: ModelGradients, tolerance: number): GradientComparison {
  if (got.grads.length !== ref.grads.length) throw new Error(`gradient counts differ: ${got.grads.length} against ${ref.grads.length}`);
  const global = Math.max(...ref.grads.map(maxAbs));
  const out: GradientComparison = { worst: 0, worstName: '', failures: [], compared: 0, nearZero: 0 };
  ref.grads.forEach((r, i) => {
    const g = got.grads[i]!;
    if (maxAbs(r) < 1e-5 * global) {
      out.nearZero++;
      const d = maxAbs(g.map((v, j) => v - r[j]!));
      if (!(d < 1e-5 * global)) out.failures.push({ name: ref.names[i]!, error: d / global, kind: 'absolute' });
      return;
    }
    out.compared++;
    const e = relativeError(g, r);
    if (e > out.worst || Number.isNaN(e)) {
      out.worst = e;
      out.worstName = ref.names[i]!;
    }
    if (!(e < tolerance)) out.failures.push({ name: ref.names[i]!, error: e, kind: 'relative' });
  });
  return out;
}

/**
 * `steps` Adam steps (learning rate 0.01) of the small CNN at 32 px on one fixed batch of 8, on the
 * active backend; returns the loss of every step and the tensors held after the second step and at
 * the end (equal unless a step leaks).
 */
export async function shortTrainingRun(steps = 20): Promise<{ losses: number[]; liveAfterSecond: number; liveAtEnd: number }> {
  const model = withDenseHead(buildEncoder('smallcnn', { size: 32 }), 4);
  const optimizer = adam(1e-2);
  const x = tf.tensor(seededValues(8 * 32 * 32 * 3, 21), [8, 32, 32, 3]);
  const y = tf.tensor(seededValues(8 * 4, 22).map((v) => (v + 1) / 2), [8, 4]);
  const losses: number[] = [];
  let liveAfterSecond = 0;
  for (let step = 0; step < steps; step++) {
    losses.push(await trainStep(model, optimizer, x, y, mse));
    if (step === 1) liveAfterSecond = tf.memory().numTensors;
  }
  const liveAtEnd = tf.memory().numTensors;
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { losses, liveAfterSecond, liveAtEnd };
}
