/**
 * One optimisation step, optionally over micro-batches: gradients of consecutive slices of the
 * batch are summed (each loss weighted by its share of the batch) and applied once. The result is
 * the full-batch gradient for per-sample losses, but a micro-batch's activations are all that is
 * held at a time, which is what lets EfficientNetB0 at 224 px train inside a 4 GB wasm heap.
 * (Batch-norm statistics are then per micro-batch, as in data-parallel training.)
 */
import * as tf from '@tensorflow/tfjs';

/** A batch's loss; `weights`, when the step was given some, are those of the same examples. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor, weights?: tf.Tensor1D) => tf.Scalar;

export interface StepOptions {
  /** Examples per forward/backward pass. Default: the whole batch. */
  microBatch?: number;
  /**
   * Per-example weights, sliced with the batch and handed to the loss. The loss must stay a mean over
   * its slice (each slice is weighted by its share of the batch), so for a weighted mean over the
   * whole batch give weights scaled to mean 1 over it.
   */
  weights?: tf.Tensor1D;
}

/** Runs one step and returns the batch loss (a number, read asynchronously). */
export async function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  loss: LossFn,
  options: StepOptions = {},
): Promise<number> {
  const n = x.shape[0]!;
  const micro = Math.min(options.microBatch ?? n, n);
  if (!Number.isInteger(micro) || micro < 1) throw new Error(`galmorph: microBatch must be a positive integer, got ${options.microBatch}`);
  if (options.weights && options.weights.shape[0] !== n) throw new Error(`galmorph: ${options.weights.shape[0]} example weights for a batch of ${n}`);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let total = 0;
  let acc: Record<string, tf.Tensor> | undefined;
  for (let start = 0; start < n; start += micro) {
    const size = Math.min(micro, n - start);
    const { value, grads } = tf.tidy(() => {
      const xs = x.slice(start, size);
      const ys = y.slice(start, size);
      const ws = options.weights?.slice(start, size);
      return tf.variableGrads(() => tf.mul(loss(ys, model.apply(xs, { training: true }) as tf.Tensor, ws), size / n) as tf.Scalar, vars);
    });
    total += (await value.data())[0]!;
    value.dispose();
    if (!acc) {
      acc = grads;
    } else {
      for (const k of Object.keys(grads)) {
        const sum = tf.add(acc[k]!, grads[k]!);
        acc[k]!.dispose();
        grads[k]!.dispose();
        acc[k] = sum;
      }
    }
  }
  optimizer.applyGradients(acc as tf.NamedTensorMap);
  tf.dispose(acc);
  return total;
}
