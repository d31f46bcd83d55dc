/**
 * Representations computed once and cached as Parquet: a dataset's features under out/embeddings
 * (so the notebooks that share them, similarity, anomaly and rings, encode each dataset once), or
 * any catalogue's under a file the caller names. A cache is used only when it holds exactly the
 * catalogue's galaxies, in order, and, for a galaxy model's features, only when a `.weights` file
 * beside it matches the model folder's saved weights: the notebooks' names say which folder, and a
 * model retrained into the same folder must not be served its predecessor's features.
 * fingerprintedEmbeddings names its files by the weights too (for benchmarks of any model folder).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Catalog } from '../data/catalog';
import { BatchOptions } from '../data/batches';
import { Embeddings, readEmbeddings, writeEmbeddings } from '../data/embeddings';
import { openDatasetCatalog } from '../data/manifests';
import { encode } from '../encoders/encode';
import { cacheName, Encoder, embeddingCachePath, loadEncoder, LoadEncoderOptions } from '../encoders/registry';
import { weightsSha256 } from './embed';
import { defaultEncoderDir } from '../models/load';

/**
 * A hash of a galaxy model folder's saved network (the files of `<dir>/model`), or undefined when
 * it has none: the tag a cache of its features is checked against.
 */
export function modelFilesTag(modelDir: string): string | undefined {
  const dir = path.join(modelDir, 'model');
  if (!fs.existsSync(dir)) return undefined;
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(dir).sort()) hash.update(`${f}\n`).update(fs.readFileSync(path.join(dir, f)));
  return hash.digest('hex');
}

const tagFile = (file: string) => `${file}.weights`;

/** The tag of the weights behind an encoder's features: its model folder's, if it has one. */
function weightsTagOf(encoder: { modelDir?: string }): string | undefined {
  return encoder.modelDir ? modelFilesTag(encoder.modelDir) : undefined;
}

/**
 * The embeddings in `file` when it holds exactly the catalogue's galaxies, in order, and, given a
 * `weightsTag`, when the tag written beside it is that one.
 */
export function readMatchingCache(file: string, catalog: Catalog, weightsTag?: string): Embeddings | undefined {
  if (!fs.existsSync(file)) return undefined;
  if (weightsTag !== undefined && (!fs.existsSync(tagFile(file)) || fs.readFileSync(tagFile(file), 'utf8').trim() !== weightsTag)) return undefined;
  const e = readEmbeddings(file);
  const ids = catalog.ids();
  return e.ids.length === ids.length && e.ids.every((id, i) => id === ids[i]) ? e : undefined;
}

/** Features from `file` when it holds exactly the catalogue's galaxies, otherwise encoded and written there. */
export async function cachedEmbeddings(encoder: Encoder, catalog: Catalog, file: string, options: BatchOptions = {}): Promise<Embeddings> {
  const tag = weightsTagOf(encoder);
  const cached = readMatchingCache(file, catalog, tag);
  if (cached) return cached;
  const e = await encode(encoder, catalog, options);
  writeEmbeddings(file, e);
  if (tag) fs.writeFileSync(tagFile(file), `${tag}\n`);
  else fs.rmSync(tagFile(file), { force: true });
  return e;
}

/**
 * An encoder's features of a dataset (by id, see `galmorph data list`), from out/embeddings when
 * cached. `encoder` is a loaded encoder or a registry id (loaded only when the cache is missing).
 */
export async function datasetEmbeddings(datasetId: string, encoder: Encoder | string = 'galmorph', options: BatchOptions & LoadEncoderOptions = {}): Promise<Embeddings> {
  const info = typeof encoder === 'string' ? { id: encoder, modelDir: options.modelDir, seed: options.seed } : encoder;
  const file = embeddingCachePath(datasetId, info);
  const catalog = openDatasetCatalog(datasetId);
  if (typeof encoder !== 'string') return cachedEmbeddings(encoder, catalog, file, options);
  const cached = readMatchingCache(file, catalog, encoder === 'galmorph' ? modelFilesTag(options.modelDir ?? defaultEncoderDir()) : undefined);
  if (cached) return cached;
  const loaded = await loadEncoder(encoder, options);
  try {
    return await cachedEmbeddings(loaded, catalog, file, options);
  } finally {
    loaded.dispose();
  }
}

/**
 * Where fingerprintedEmbeddings caches a dataset's features for a loaded encoder: out/embeddings (or
 * `dir`)/`<dataset>-<cache name>-<size>px-<hash>.parquet`, the hash over the encoder's weights and
 * preprocessing, so that a retrained model folder, another seed or another input size gets a file of
 * its own and never reads another network's features.
 */
export async function fingerprintedCachePath(datasetId: string, encoder: Encoder, dir?: string): Promise<string> {
  const hash = createHash('sha256').update(await weightsSha256(encoder)).update(JSON.stringify(encoder.preprocess)).digest('hex');
  const name = `${cacheName(encoder)}-${encoder.preprocess.size}px-${hash.slice(0, 12)}`;
  return dir ? embeddingCachePath(datasetId, name, dir) : embeddingCachePath(datasetId, name);
}

/** A dataset's features for a loaded encoder, read from its fingerprinted cache file or encoded into it. */
export async function fingerprintedEmbeddings(
  datasetId: string,
  encoder: Encoder,
  options: BatchOptions & { dir?: string } = {},
): Promise<{ embeddings: Embeddings; file: string; cached: boolean }> {
  const file = await fingerprintedCachePath(datasetId, encoder, options.dir);
  const catalog = openDatasetCatalog(datasetId);
  const cached = readMatchingCache(file, catalog);
  return { embeddings: cached ?? (await cachedEmbeddings(encoder, catalog, file, options)), file, cached: cached !== undefined };
}
