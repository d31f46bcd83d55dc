/**
 * ImageNet representations for comparison: MobileNetV2 (1.0, 224 px) from its data manifest, its
 * global-average-pooled features (1280-d). Preprocessing as the weights' README states:
 * x/255, then ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
 * MobileNet v1 (width 0.25, 224 px; 256-d features) from its manifest, preprocessed x/127.5 - 1.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Catalog } from '../data/catalog';
import { ImageLoader } from '../data/images';
import { resolveManifest } from '../data/manifests';
import { fileSystem } from '../models/io';
import { pixelsTensor } from '../training/train-galaxy';
import type { Embeddings } from './embed';

export const MOBILENET_V2 = 'mobilenet-v2-1.0-224-from-onnx-int8';
export const MOBILENET_V1 = 'mobilenet-v1-0.25-224';
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** The MobileNetV2 layers model (with its classifier) from the manifest's files. */
export async function loadMobileNetV2(): Promise<tf.LayersModel> {
  const { paths } = resolveManifest(MOBILENET_V2);
  return tf.loadLayersModel(fileSystem(path.dirname(paths.get('model.json')!)));
}

/** The MobileNet v1 0.25 layers model (with its classifier) from the manifest's files. */
export async function loadMobileNetV1(): Promise<tf.LayersModel> {
  const { paths } = resolveManifest(MOBILENET_V1);
  return tf.loadLayersModel(fileSystem(path.dirname(paths.get('model.json')!)));
}

/** Images [n, 224, 224, 3] in 0..255 → MobileNet v1's input, x/127.5 - 1. */
export function imagenetInputV1(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.div(pixels, 127.5), 1) as tf.Tensor4D);
}

/** Images [n, 224, 224, 3] in 0..255 → MobileNetV2's normalised input. */
export function imagenetInput(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.sub(tf.div(pixels, 255), MEAN), STD) as tf.Tensor4D);
}

/** 1280-d ImageNet features of every galaxy of a catalogue. */
export async function imagenetEmbeddings(catalog: Catalog, onProgress?: (done: number, total: number) => void): Promise<Embeddings> {
  const model = await loadMobileNetV2();
  const pooled = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D');
  if (!pooled) throw new Error('galmorph: MobileNetV2 has no GlobalAveragePooling2D layer');
  const features = tf.model({ inputs: model.inputs, outputs: pooled.output as tf.SymbolicTensor });
  const loader = new ImageLoader({ size: 224 });
  const batch = 32;
  const dim = (pooled.outputShape as number[])[1]!;
  const vectors = new Float32Array(catalog.length * dim);
  for (let s = 0; s < catalog.length; s += batch) {
    const rows = catalog.rows.slice(s, s + batch);
    const pixels = await Promise.all(rows.map((r) => loader.get(catalog.imagePath(r))));
    const raw = pixelsTensor(pixels);
    const out = tf.tidy(() => features.apply(imagenetInput(raw), { training: false }) as tf.Tensor2D);
    vectors.set((await out.data()) as Float32Array, s * dim);
    tf.dispose([raw, out]);
    loader.clear();
    onProgress?.(Math.min(s + batch, catalog.length), catalog.length);
  }
  model.dispose();
  return { ids: catalog.ids(), vectors, dim };
}
