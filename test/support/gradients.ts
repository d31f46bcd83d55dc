import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';

/** Gradients of f at the given inputs on one backend, read back asynchronously; fails on a leaked tensor. */
export async function gradsOn(backend: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Float32Array[], shapes: number[][]): Promise<Float32Array[]> {
  await initBackend(backend);
  const before = tf.memory().numTensors;
  const xs = inputs.map((v, i) => tf.tensor(v, shapes[i]));
  const gs = tf.grads(f)(xs);
  const out = await Promise.all(gs.map((g) => g.data() as Promise<Float32Array>));
  tf.dispose([...xs, ...gs]);
  assert.equal(tf.memory().numTensors, before, `no tensor leaked on ${backend}`);
  return out;
}
