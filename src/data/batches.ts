/**
 * The one inference loop: image files in batches → decoded pixels → the model's input → a
 * function of the batch → rows of a result array. Embedding, prediction, evaluation, fine-tuning
 * features and ImageNet features all run through it, so batching, freeing tensors, progress and
 * interruption behave the same everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { loaderFor, prepareBatch, Preprocess } from './preprocess';

export interface BatchOptions {
  /** Images per forward pass. Default 32. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches: an aborted signal stops the loop with its reason. */
  signal?: AbortSignal;
}

/**
 * Runs `apply` on every batch of `files` (central view) and returns its rows, [files, width]
 * row-major. `apply` returns one row of `width` values per image; its tensors are freed here.
 */
export async function mapImageBatches(
  files: string[],
  preprocess: Preprocess,
  width: number,
  apply: (x: tf.Tensor4D) => Promise<Float32Array> | Float32Array,
  options: BatchOptions = {},
): Promise<Float32Array> {
  const batch = options.batchSize ?? 32;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`galmorph: batch size must be a positive integer, got ${batch}`);
  const loader = loaderFor(preprocess);
  const out = new Float32Array(files.length * width);
  for (let s = 0; s < files.length; s += batch) {
    options.signal?.throwIfAborted();
    const pixels = await Promise.all(files.slice(s, s + batch).map((f) => loader.get(f)));
    const x = prepareBatch(pixels, preprocess);
    try {
      const rows = await apply(x);
      if (rows.length !== pixels.length * width) throw new Error(`galmorph: a batch of ${pixels.length} images gave ${rows.length} values, not ${pixels.length} rows of ${width}`);
      out.set(rows, s * width);
    } finally {
      x.dispose();
      loader.clear();
    }
    options.onProgress?.(s + pixels.length, files.length);
  }
  return out;
}

/** A model's output for a batch, read asynchronously (webgpu cannot read synchronously in Node). */
export async function readOutput(run: () => tf.Tensor): Promise<Float32Array> {
  const y = tf.tidy(run);
  try {
    return (await y.data()) as Float32Array;
  } finally {
    y.dispose();
  }
}
