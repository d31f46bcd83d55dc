/**
 * Where fine-tuning starts: an encoder (image → pooled features) and how images become its input.
 *   galmorph                    galmorph's pretrained galaxy model (or any `galmorph train` folder)
 *   imagenet-mobilenetv2        ImageNet MobileNetV2 1.0 (224 px, 1280-d), from ../shared/weights
 *   imagenet-mobilenetv1        ImageNet MobileNet v1 0.25 (224 px, 256-d), from ../shared/weights
 *   scratch-galmorph-cnn        galmorph's architecture (64 px), random initialisation
 *   scratch-mobilenetv2         MobileNetV2's architecture, random initialisation
 *   scratch-mobilenetv1         MobileNet v1 0.25's architecture, random initialisation
 * Random initialisations are seeded (each layer's own initialiser, with a seed), so a scratch start
 * is the same network every time for the same seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Pixels } from '../data/images';
import { Rng } from '../data/augment';
import { resolveManifest } from '../data/manifests';
import { buildEncoder } from '../models/encoders';
import { representationModel } from '../models/galaxy-model';
import { defaultModelDir, loadGalaxyModel } from '../models/load';
import { imagenetInput, imagenetInputV1, loadMobileNetV1, loadMobileNetV2, MOBILENET_V1, MOBILENET_V2 } from '../representations/imagenet';
import { augmentBatch } from '../training/augment-batch';
import { decodeSize, inputBatch, pixelsTensor } from '../training/train-galaxy';
// Custom layers, registered before any model using them is deserialised.
import '../models/layers/batch-norm';
import '../models/layers/mc-dropout';

/** How images become the encoder's input (saved with a fine-tuned model). */
export type Preprocess =
  | { kind: 'galmorph'; size: number; channels: 1 | 3 }
  | { kind: 'imagenet-mobilenetv2'; size: 224 }
  | { kind: 'imagenet-mobilenetv1'; size: 224 };

export interface StartInfo {
  id: string;
  description: string;
  /** What the weights learned from. */
  pretraining: 'galaxy zoo' | 'imagenet' | 'none';
  preprocess: Preprocess;
  /** For `galmorph`: the model folder it was loaded from. */
  modelDir?: string;
  /** For scratch starts: the initialisation seed. */
  seed?: number;
}

export interface StartPoint extends StartInfo {
  /** Image → pooled features. */
  encoder: tf.LayersModel;
  /** Frees the encoder and any model it was cut from. */
  dispose(): void;
}

export const START_IDS = [
  'galmorph',
  'imagenet-mobilenetv2',
  'imagenet-mobilenetv1',
  'scratch-galmorph-cnn',
  'scratch-mobilenetv2',
  'scratch-mobilenetv1',
] as const;

export interface StartOptions {
  /** For `galmorph`: a model folder from `galmorph train`. Default: the committed pretrained model. */
  modelDir?: string;
  /** For scratch starts: seed of the random initialisation. Default 0. */
  seed?: number;
  /** For scratch-galmorph-cnn: input size. Default 64 (the pretrained model's). */
  size?: number;
}

/**
 * Frees the weights of models that share layers (each variable once): tfjs's own dispose counts
 * references per use of a layer, which models cut from one another never bring to zero.
 */
export function disposeModels(...models: tf.LayersModel[]): void {
  const vars = new Set<tf.LayerVariable>();
  for (const m of models) for (const l of m.layers) for (const w of l.weights) vars.add(w);
  for (const v of vars) v.dispose();
}

/** The layer whose output is the pooled representation of an ImageNet classifier. */
function pooledModel(model: tf.LayersModel): tf.LayersModel {
  const pooled = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D');
  if (!pooled) throw new Error(`galmorph: ${model.name} has no GlobalAveragePooling2D layer`);
  return tf.model({ inputs: model.inputs, outputs: pooled.output as tf.SymbolicTensor, name: `${model.name}_features` });
}

/** Gives every random initialiser in a serialised model a seed (its own, from `seed`). */
export function seedInitializers(topology: unknown, seed: number): unknown {
  let counter = 0;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const cls = o.class_name;
      if (typeof cls === 'string' && /Uniform|Normal|Glorot|He|LeCun|Lecun|VarianceScaling|Orthogonal/.test(cls) && o.config && typeof o.config === 'object') {
        return { ...o, config: { ...(o.config as object), seed: seed * 1009 + ++counter } };
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(topology);
}

/** A fresh, seeded random initialisation of a model's architecture. */
export async function reinitialize(topology: tf.serialization.ConfigDict, seed: number): Promise<tf.LayersModel> {
  const config = (topology.model_config ?? topology) as tf.serialization.ConfigDict;
  return tf.models.modelFromJSON({ modelTopology: seedInitializers(config, seed) as tf.serialization.ConfigDict });
}

function manifestTopology(id: string): tf.serialization.ConfigDict {
  const file = resolveManifest(id).paths.get('model.json')!;
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { modelTopology: tf.serialization.ConfigDict }).modelTopology;
}

/** Loads a starting point by id (see START_IDS), or a galmorph model folder. */
export async function loadStart(id: string, options: StartOptions = {}): Promise<StartPoint> {
  const seed = options.seed ?? 0;
  switch (id) {
    case 'galmorph': {
      const loaded = await loadGalaxyModel(options.modelDir ?? defaultModelDir());
      return {
        id,
        description: `galmorph's pretrained galaxy model (${loaded.config.arch}, ${loaded.config.size} px) from ${path.relative(process.cwd(), loaded.dir) || loaded.dir}`,
        pretraining: 'galaxy zoo',
        preprocess: { kind: 'galmorph', size: loaded.config.size, channels: loaded.config.channels },
        modelDir: loaded.dir,
        encoder: representationModel(loaded.model),
        dispose: () => disposeModels(loaded.model),
      };
    }
    case 'imagenet-mobilenetv2':
    case 'imagenet-mobilenetv1': {
      const v2 = id === 'imagenet-mobilenetv2';
      const model = v2 ? await loadMobileNetV2() : await loadMobileNetV1();
      return {
        id,
        description: v2 ? `ImageNet MobileNetV2 1.0, 224 px (${MOBILENET_V2})` : `ImageNet MobileNet v1 0.25, 224 px (${MOBILENET_V1})`,
        pretraining: 'imagenet',
        preprocess: { kind: id, size: 224 },
        encoder: pooledModel(model),
        dispose: () => disposeModels(model),
      };
    }
    case 'scratch-galmorph-cnn': {
      const size = options.size ?? 64;
      const built = buildEncoder('galmorph-cnn', { size });
      const topology = built.toJSON(undefined, false) as tf.serialization.ConfigDict;
      built.dispose();
      const encoder = await reinitialize(topology, seed);
      return {
        id,
        description: `galmorph-cnn at ${size} px, random initialisation (seed ${seed})`,
        pretraining: 'none',
        preprocess: { kind: 'galmorph', size, channels: 3 },
        seed,
        encoder,
        dispose: () => disposeModels(encoder),
      };
    }
    case 'scratch-mobilenetv2':
    case 'scratch-mobilenetv1': {
      const v2 = id === 'scratch-mobilenetv2';
      const model = await reinitialize(manifestTopology(v2 ? MOBILENET_V2 : MOBILENET_V1), seed);
      return {
        id,
        description: `${v2 ? 'MobileNetV2 1.0' : 'MobileNet v1 0.25'} architecture, 224 px, random initialisation (seed ${seed})`,
        pretraining: 'none',
        preprocess: { kind: v2 ? 'imagenet-mobilenetv2' : 'imagenet-mobilenetv1', size: 224 },
        seed,
        encoder: pooledModel(model),
        dispose: () => disposeModels(model),
      };
    }
    default:
      if (fs.existsSync(path.join(id, 'config.json'))) return loadStart('galmorph', { ...options, modelDir: id });
      throw new Error(`galmorph: unknown starting point '${id}'. Valid choices: ${START_IDS.join(', ')}, or a galmorph model folder (with config.json)`);
  }
}

/** The side length images are decoded at before augmentation or the central view. */
export function decodeSizeFor(p: Preprocess): number {
  return p.kind === 'galmorph' ? decodeSize(p.size) : p.size;
}

/**
 * Decoded pixels (0-255, decoded at `decodeSizeFor`) → the encoder's input. With `rng`, Zoobot's
 * training augmentations: for galmorph inputs rotation, flips and a random resized crop (the
 * central view otherwise, as in pretraining); for ImageNet inputs rotation and flips of the whole
 * image (which is also what the frozen ImageNet features see).
 */
export function prepareBatch(pixels: Pixels[], p: Preprocess, rng?: Rng): tf.Tensor4D {
  if (p.kind === 'galmorph') return inputBatch(pixels, p.size, rng);
  const raw = pixelsTensor(pixels);
  const out = tf.tidy(() => {
    const view = rng ? augmentBatch(raw, p.size, rng, { cropScale: null }) : raw;
    return p.kind === 'imagenet-mobilenetv2' ? imagenetInput(view) : imagenetInputV1(view);
  });
  raw.dispose();
  return out;
}
