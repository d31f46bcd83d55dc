/**
 * `encode(encoder, catalogue | files)`: pooled features of every image, central view, in order.
 * The loop itself is src/data/batches.ts, shared with prediction.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchOptions, mapImageBatches, readOutput } from '../data/batches';
import { Catalog } from '../data/catalog';
import { Embeddings } from '../data/embeddings';
import type { Encoder } from './registry';

/** Images to run a model on: a catalogue (its ids and image files) or image files (ids = paths). */
export type ImageSource = Catalog | readonly string[];

/** Ids and image files of a source, in order. */
export function sourceFiles(source: ImageSource): { ids: string[]; files: string[] } {
  if (source instanceof Catalog) return { ids: source.ids(), files: source.rows.map((r) => source.imagePath(r)) };
  return { ids: [...source], files: [...source] };
}

/** Features [n, dim] of every image of `source` through `encoder` (default batch 32). */
export async function encode(encoder: Pick<Encoder, 'model' | 'preprocess' | 'dim'>, source: ImageSource, options: BatchOptions = {}): Promise<Embeddings> {
  const { ids, files } = sourceFiles(source);
  const vectors = await mapImageBatches(files, encoder.preprocess, encoder.dim, (x) => readOutput(() => encoder.model.apply(x, { training: false }) as tf.Tensor), options);
  return { ids, vectors, dim: encoder.dim };
}
