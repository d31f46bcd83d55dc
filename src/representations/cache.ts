/**
 * Representations of the project's datasets, computed once and cached under out/embeddings, so
 * the notebooks that share them (similarity, anomaly, rings) embed each dataset only once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDatasetCatalog } from '../data/manifests';
import { LoadedGalaxyModel } from '../models/galaxy-model';
import { outDir } from '../paths';
import { Embeddings, embedCatalog, readEmbeddings, writeEmbeddings } from './embed';
import { imagenetEmbeddings } from './imagenet';

export const FEATURE_KINDS = ['galmorph', 'imagenet'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/** The cache file of one dataset's features (`name`: a FeatureKind, or another encoder's name). */
export function embeddingCachePath(datasetId: string, name: FeatureKind | string, dir = path.join(outDir(), 'embeddings')): string {
  return path.join(dir, `${datasetId}-${name}.parquet`);
}

/**
 * galmorph (needs `loaded`, the galaxy model) or ImageNet MobileNetV2 features of a dataset, read
 * from the cache when present.
 */
export async function datasetEmbeddings(datasetId: string, kind: FeatureKind, loaded?: LoadedGalaxyModel): Promise<Embeddings> {
  if (!FEATURE_KINDS.includes(kind)) throw new Error(`galmorph: unknown feature kind '${String(kind)}'. Valid choices: ${FEATURE_KINDS.join(', ')}`);
  const file = embeddingCachePath(datasetId, kind);
  if (fs.existsSync(file)) return readEmbeddings(file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const catalog = openDatasetCatalog(datasetId);
  if (kind === 'galmorph') {
    if (!loaded) throw new Error(`galmorph: embedding ${datasetId} needs the galaxy model (pass loadGalaxyModel()'s result)`);
    return embedCatalog(loaded, catalog, file);
  }
  const e = await imagenetEmbeddings(catalog);
  writeEmbeddings(file, e);
  return e;
}
