/**
 * Every encoder galmorph knows, as data: an id, what it is, what its weights learned from, and how
 * to load it. An encoder maps images to pooled features; one `loadEncoder(id)` serves embedding,
 * similarity, anomaly detection and fine-tuning, and `encode()` (encode.ts) runs it.
 *   galmorph                    galmorph's pretrained galaxy model (or any `galmorph train` folder)
 *   imagenet-mobilenetv2        ImageNet MobileNetV2 1.0 (224 px, 1280-d), from its data manifest
 *   imagenet-mobilenetv1        ImageNet MobileNet v1 0.25 (224 px, 256-d), from its data manifest
 *   scratch-galmorph-cnn        galmorph's architecture, random initialisation
 *   scratch-mobilenetv2         MobileNetV2's architecture, random initialisation
 *   scratch-mobilenetv1         MobileNet v1 0.25's architecture, random initialisation
 * Random initialisations are seeded (each layer's own initialiser), so a scratch encoder is the
 * same network every time for the same seed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { outDir } from '../paths';
import { buildEncoder } from '../models/architectures';
import type { EncoderInfo } from '../models/finetuned-model';
import { LoadedGalaxyModel, representationModel } from '../models/galaxy-model';
import { loadMobileNetV1, loadMobileNetV2, manifestTopology, MOBILENET_V1, MOBILENET_V2 } from '../models/imagenet';
import { defaultEncoderDir, loadGalaxyModel } from '../models/load';
import { disposeModels, pooledModel, reinitialize } from '../models/surgery';
// Custom layers, registered before any model using them is deserialised.
import '../models/layers/batch-norm';
import '../models/layers/swish';
import '../models/layers/mc-dropout';

export type { EncoderInfo } from '../models/finetuned-model';

/** A loaded encoder: image → pooled features, with how images become its input. */
export interface Encoder extends EncoderInfo {
  /** Image batch → features [n, dim]. */
  model: tf.LayersModel;
  /** Feature dimension. */
  dim: number;
  /** Frees the encoder and any model it was cut from. */
  dispose(): void;
}

export interface LoadEncoderOptions {
  /** For `galmorph`: a model folder from `galmorph train`. Default: the committed pretrained model. */
  modelDir?: string;
  /** For scratch encoders: seed of the random initialisation. Default 0. */
  seed?: number;
  /** For scratch-galmorph-cnn: input size. Default 64 (the pretrained model's). */
  size?: number;
}

export interface EncoderEntry {
  id: string;
  description: string;
  pretraining: EncoderInfo['pretraining'];
  load(options: LoadEncoderOptions): Promise<Encoder>;
}

function featureDim(model: tf.LayersModel): number {
  return (model.outputs[0]!.shape as number[])[1]!;
}

/** The encoder inside a galaxy model already loaded (it owns the model: dispose frees it). */
export function galaxyModelEncoder(loaded: LoadedGalaxyModel): Encoder {
  const model = representationModel(loaded.model);
  return {
    id: 'galmorph',
    description: `galmorph's galaxy model (${loaded.config.arch}, ${loaded.config.size} px) from ${path.relative(process.cwd(), loaded.dir) || loaded.dir}`,
    pretraining: 'galaxy zoo',
    preprocess: { kind: 'galmorph', size: loaded.config.size, channels: loaded.config.channels },
    modelDir: loaded.dir,
    model,
    dim: featureDim(model),
    dispose: () => disposeModels(loaded.model),
  };
}

/**
 * A galaxy-model encoder architecture (see buildEncoder) with a seeded random initialisation, id
 * `scratch-<arch>`: the "random init, frozen" start of the same network as a trained model folder.
 * Size defaults to the architecture's own, channels to 3.
 */
export async function scratchEncoder(arch: string, options: Pick<LoadEncoderOptions, 'seed' | 'size'> & { channels?: number } = {}): Promise<Encoder> {
  const { seed = 0, channels = 3 } = options;
  const built = buildEncoder(arch, { size: options.size, channels });
  const size = built.inputs[0]!.shape[1]!;
  const topology = built.toJSON(undefined, false) as tf.serialization.ConfigDict;
  built.dispose();
  const model = await reinitialize(topology, seed);
  return {
    id: `scratch-${arch}`,
    description: `${arch} at ${size} px${channels === 1 ? ', greyscale' : ''}, random initialisation (seed ${seed})`,
    pretraining: 'none',
    preprocess: { kind: 'galmorph', size, channels: channels === 1 ? 1 : 3 },
    seed,
    model,
    dim: featureDim(model),
    dispose: () => disposeModels(model),
  };
}

function imagenetEntry(v2: boolean): EncoderEntry {
  const id = v2 ? 'imagenet-mobilenetv2' : 'imagenet-mobilenetv1';
  const description = v2 ? `ImageNet MobileNetV2 1.0, 224 px (${MOBILENET_V2})` : `ImageNet MobileNet v1 0.25, 224 px (${MOBILENET_V1})`;
  return {
    id,
    description,
    pretraining: 'imagenet',
    load: async () => {
      const classifier = v2 ? await loadMobileNetV2() : await loadMobileNetV1();
      const model = pooledModel(classifier);
      return { id, description, pretraining: 'imagenet', preprocess: { kind: id, size: 224 }, model, dim: featureDim(model), dispose: () => disposeModels(classifier) };
    },
  };
}

function scratchMobileNetEntry(v2: boolean): EncoderEntry {
  const id = v2 ? 'scratch-mobilenetv2' : 'scratch-mobilenetv1';
  const arch = v2 ? 'MobileNetV2 1.0' : 'MobileNet v1 0.25';
  return {
    id,
    description: `${arch} architecture, 224 px, random initialisation`,
    pretraining: 'none',
    load: async ({ seed = 0 }) => {
      const classifier = await reinitialize(manifestTopology(v2 ? MOBILENET_V2 : MOBILENET_V1), seed);
      const model = pooledModel(classifier);
      return {
        id,
        description: `${arch} architecture, 224 px, random initialisation (seed ${seed})`,
        pretraining: 'none',
        preprocess: { kind: v2 ? 'imagenet-mobilenetv2' : 'imagenet-mobilenetv1', size: 224 },
        seed,
        model,
        dim: featureDim(model),
        dispose: () => disposeModels(classifier),
      };
    },
  };
}

/** The registry, in the order documentation and error messages list it. */
export const ENCODERS: readonly EncoderEntry[] = [
  {
    id: 'galmorph',
    description: "galmorph's galaxy representation, trained without the labels the experiments evaluate (models/galmorph-honest), or any `galmorph train` folder",
    pretraining: 'galaxy zoo',
    load: async ({ modelDir }) => galaxyModelEncoder(await loadGalaxyModel(modelDir ?? defaultEncoderDir())),
  },
  imagenetEntry(true),
  imagenetEntry(false),
  {
    id: 'scratch-galmorph-cnn',
    description: "galmorph's architecture (galmorph-cnn), random initialisation",
    pretraining: 'none',
    load: ({ seed = 0, size = 64 }) => scratchEncoder('galmorph-cnn', { seed, size }),
  },
  scratchMobileNetEntry(true),
  scratchMobileNetEntry(false),
];

export const ENCODER_IDS: readonly string[] = ENCODERS.map((e) => e.id);

/**
 * Loads an encoder by id (see ENCODER_IDS) or from a galmorph model folder (a path holding
 * config.json). An unknown id lists the valid choices.
 */
export async function loadEncoder(id: string, options: LoadEncoderOptions = {}): Promise<Encoder> {
  if (typeof id !== 'string' || id.length === 0) throw new Error(`galmorph: loadEncoder needs an encoder id. Valid choices: ${ENCODER_IDS.join(', ')}, or a galmorph model folder`);
  const entry = ENCODERS.find((e) => e.id === id);
  if (entry) return entry.load(options);
  if (fs.existsSync(path.join(id, 'config.json'))) return galaxyModelEncoder(await loadGalaxyModel(id));
  throw new Error(`galmorph: unknown encoder '${id}'. Valid choices: ${ENCODER_IDS.join(', ')}, or a galmorph model folder (with config.json)`);
}

/**
 * The name under which an encoder's features of a dataset are cached (out/embeddings/<dataset>-<name>.parquet):
 * the committed encoder's folder name (`galmorph-honest`), `galmorph-<folder>` for another model
 * folder, `imagenet` for MobileNetV2, `<id>-seed<n>` for scratch encoders. Notebooks share caches
 * through these names.
 */
export function cacheName(info: Pick<EncoderInfo, 'id' | 'modelDir' | 'seed'>): string {
  if (info.id === 'galmorph') {
    // Named after the model folder, the default's too, so that features cached with an earlier
    // default model are never read as this one's; another folder that would take the same name
    // gets its path's hash as well.
    const defaultName = path.basename(defaultEncoderDir());
    const dir = path.resolve(info.modelDir ?? defaultEncoderDir());
    if (dir === defaultEncoderDir()) return defaultName;
    const name = `galmorph-${path.basename(dir)}`;
    return name === defaultName ? `${name}-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}` : name;
  }
  if (info.id === 'imagenet-mobilenetv2') return 'imagenet';
  return info.seed !== undefined ? `${info.id}-seed${info.seed}` : info.id;
}

/** The cache file of one dataset's features for an encoder (by info or by cache name). */
export function embeddingCachePath(datasetId: string, encoder: Pick<EncoderInfo, 'id' | 'modelDir' | 'seed'> | string, dir = path.join(outDir(), 'embeddings')): string {
  return path.join(dir, `${datasetId}-${typeof encoder === 'string' ? encoder : cacheName(encoder)}.parquet`);
}
