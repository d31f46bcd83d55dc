/**
 * Frozen-encoder features: every galaxy of a catalogue through a starting point's encoder once
 * (central view, no augmentation), cached as Parquet so that training heads later costs seconds.
 * The cache names for galmorph's pretrained model and ImageNet MobileNetV2 are the ones the
 * similarity notebook writes, so either notebook reuses the other's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Catalog } from '../data/catalog';
import { ImageLoader } from '../data/images';
import { defaultModelDir } from '../models/load';
import { embeddingCachePath } from '../representations/cache';
import { Embeddings, readEmbeddings, writeEmbeddings } from '../representations/embed';
import { decodeSizeFor, prepareBatch, Preprocess, StartPoint } from './starts';

export interface FeatureOptions {
  /** Galaxies per forward pass. Default 32. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Pooled features [files, dim] (row-major) of image files through an encoder, central view. */
export async function encodeFiles(encoder: tf.LayersModel, p: Preprocess, files: string[], options: FeatureOptions = {}): Promise<Float32Array> {
  const batch = options.batchSize ?? 32;
  const loader = new ImageLoader({ size: decodeSizeFor(p), greyscale: p.kind === 'galmorph' && p.channels === 1 });
  const dim = (encoder.outputs[0]!.shape as number[])[1]!;
  const vectors = new Float32Array(files.length * dim);
  for (let s = 0; s < files.length; s += batch) {
    const pixels = await Promise.all(files.slice(s, s + batch).map((f) => loader.get(f)));
    const x = prepareBatch(pixels, p);
    const out = tf.tidy(() => encoder.apply(x, { training: false }) as tf.Tensor2D);
    vectors.set((await out.data()) as Float32Array, s * dim);
    tf.dispose([x, out]);
    loader.clear();
    options.onProgress?.(Math.min(s + batch, files.length), files.length);
  }
  return vectors;
}

/** Pooled features of every galaxy of `catalog` (in catalogue order). */
export async function encodeCatalog(start: StartPoint, catalog: Catalog, options: FeatureOptions = {}): Promise<Embeddings> {
  const files = catalog.rows.map((r) => catalog.imagePath(r));
  const vectors = await encodeFiles(start.encoder, start.preprocess, files, options);
  return { ids: catalog.ids(), vectors, dim: vectors.length / Math.max(files.length, 1) };
}

/** The cache file of a dataset's features for a starting point, under `dir`. */
export function featureCacheFile(dir: string, dataset: string, start: Pick<StartPoint, 'id' | 'modelDir' | 'seed'>): string {
  let name: string;
  if (start.id === 'galmorph') {
    const isDefault = !start.modelDir || path.resolve(start.modelDir) === defaultModelDir();
    name = isDefault ? 'galmorph' : `galmorph-${path.basename(start.modelDir!)}`;
  } else if (start.id === 'imagenet-mobilenetv2') {
    name = 'imagenet';
  } else {
    name = start.seed !== undefined ? `${start.id}-seed${start.seed}` : start.id;
  }
  return embeddingCachePath(dataset, name, dir);
}

/**
 * Features from `file` when it holds exactly the catalogue's galaxies, otherwise computed and
 * written there.
 */
export async function cachedFeatures(start: StartPoint, catalog: Catalog, file: string, options: FeatureOptions = {}): Promise<Embeddings> {
  if (fs.existsSync(file)) {
    const e = readEmbeddings(file);
    const ids = catalog.ids();
    if (e.ids.length === ids.length && e.ids.every((id, i) => id === ids[i])) return e;
  }
  const e = await encodeCatalog(start, catalog, options);
  writeEmbeddings(file, e);
  return e;
}

/** The rows of some galaxies (by index into `e.ids`) as one Float32Array. */
export function selectRows(e: Embeddings, indices: number[]): Float32Array {
  const out = new Float32Array(indices.length * e.dim);
  indices.forEach((i, r) => out.set(e.vectors.subarray(i * e.dim, (i + 1) * e.dim), r * e.dim));
  return out;
}
