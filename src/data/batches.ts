/**
 * The one inference loop: image files in batches → decoded pixels → the model's input → a
 * function of the batch → rows of a result array. Embedding, prediction, evaluation, fine-tuning
 * features and ImageNet features all run through it, so batching, freeing tensors, progress and
 * interruption behave the same everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { Catalog } from './catalog';
import type { Pixels } from './images';
import { loaderFor, prepareBatch, Preprocess } from './preprocess';
import { ProgressListener, track } from '../progress';

export interface BatchOptions {
  /** Images per forward pass. Default 32. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** Names this loop in progress events and interruption messages (src/progress.ts). Default 'images'. */
  label?: string;
  /** Progress events of this loop. Default: the ambient listener (the notebook's bar, src/progress.ts). */
  progress?: ProgressListener;
  /**
   * Checked between batches: an aborted signal stops the loop with its reason (or an
   * InterruptedError saying how many images were done). Default: the ambient signal (the notebook
   * kernel's Interrupt).
   */
  signal?: AbortSignal;
  /**
   * Leave out images that cannot be decoded instead of stopping at the first: their rows are NaN
   * and each is reported to `onSkip`. Default false.
   */
  skipUnreadable?: boolean;
  onSkip?: (skipped: SkippedImage) => void;
  /** Names image `index` in errors and reports (e.g. the catalogue, row and id). Default: its path. */
  describe?: (index: number) => string;
}

/** An image left out by `skipUnreadable`. */
export interface SkippedImage {
  index: number;
  file: string;
  /** Where it came from (see BatchOptions.describe). */
  where: string;
  reason: string;
}

function reasonOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^galmorph: /, '');
}

/** Images to run a model on: a catalogue (its ids and image files) or image files (ids = paths). */
export type ImageSource = Catalog | readonly string[];

/** Ids and image files of a source, in order, and how to name one in messages (catalogue, row, id). */
export function sourceFiles(source: ImageSource): { ids: string[]; files: string[]; describe: (index: number) => string } {
  if (source instanceof Catalog) {
    return { ids: source.ids(), files: source.rows.map((r) => source.imagePath(r)), describe: (i) => source.describeRow(source.rows[i]!) };
  }
  return { ids: [...source], files: [...source], describe: (i) => source[i]! };
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
  const tracker = track(options.label ?? 'images', 'images', options);
  tracker.report(0, files.length);
  const decode = (s: number) => Promise.allSettled(files.slice(s, s + batch).map((f) => loader.get(f)));
  let decoding = files.length > 0 ? decode(0) : undefined;
  for (let s = 0; s < files.length; s += batch) {
    tracker.check(s, files.length);
    const slice = files.slice(s, s + batch);
    const settled = await decoding!;
    // The next batch decodes (on libuv's threads, in sharp) while this one runs through the model.
    decoding = s + batch < files.length ? decode(s + batch) : undefined;
    const kept: number[] = [];
    const pixels: Pixels[] = [];
    settled.forEach((r, j) => {
      if (r.status === 'fulfilled') {
        kept.push(s + j);
        pixels.push(r.value);
        return;
      }
      const where = options.describe?.(s + j) ?? slice[j]!;
      const reason = reasonOf(r.reason);
      if (!options.skipUnreadable) {
        loader.clear();
        throw new Error(`galmorph: ${where}: ${reason.includes(slice[j]!) ? reason : `${slice[j]}: ${reason}`} (predict, embed and train take --skip-unreadable to leave such images out and list them)`);
      }
      out.fill(NaN, (s + j) * width, (s + j + 1) * width);
      options.onSkip?.({ index: s + j, file: slice[j]!, where, reason });
    });
    if (pixels.length > 0) {
      const x = prepareBatch(pixels, preprocess);
      try {
        const rows = await apply(x);
        if (rows.length !== pixels.length * width) throw new Error(`galmorph: a batch of ${pixels.length} images gave ${rows.length} values, not ${pixels.length} rows of ${width}`);
        kept.forEach((i, r) => out.set(rows.subarray(r * width, (r + 1) * width), i * width));
      } finally {
        x.dispose();
      }
    }
    loader.clear();
    options.onProgress?.(s + slice.length, files.length);
    tracker.report(s + slice.length, files.length);
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
