/**
 * `encode(encoder, catalogue | files)`: pooled features of every image, central view, in order.
 * The loop itself is src/data/batches.ts, shared with prediction.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchOptions, ImageSource, mapImageBatches, readOutput, sourceFiles } from '../data/batches';
import { Embeddings, selectRows } from '../data/embeddings';
import type { Encoder } from './registry';

export type { ImageSource } from '../data/batches';

/**
 * Features [n, dim] of every image of `source` through `encoder` (default batch 32). With
 * `skipUnreadable`, images that cannot be decoded are left out (ids and vectors) and reported to
 * `onSkip`.
 */
export async function encode(encoder: Pick<Encoder, 'model' | 'preprocess' | 'dim'> & { id?: string }, source: ImageSource, options: BatchOptions = {}): Promise<Embeddings> {
  const { ids, files, describe } = sourceFiles(source);
  const skipped = new Set<number>();
  const vectors = await mapImageBatches(files, encoder.preprocess, encoder.dim, (x) => readOutput(() => encoder.model.apply(x, { training: false }) as tf.Tensor), {
    describe,
    label: `encode${encoder.id ? ` (${encoder.id})` : ''}`,
    ...options,
    onSkip: (s) => {
      skipped.add(s.index);
      options.onSkip?.(s);
    },
  });
  if (skipped.size === 0) return { ids, vectors, dim: encoder.dim };
  const keep = ids.map((_, i) => i).filter((i) => !skipped.has(i));
  return { ids: keep.map((i) => ids[i]!), vectors: selectRows({ ids, vectors, dim: encoder.dim }, keep), dim: encoder.dim };
}
