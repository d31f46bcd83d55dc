/**
 * ImageNet classifiers from their data manifests (`../shared/weights`, or upstream for users):
 * MobileNetV2 1.0 at 224 px (1280-d pooled features) and MobileNet v1 0.25 at 224 px (256-d).
 * Their preprocessing is in src/data/preprocess.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { resolveManifest } from '../data/manifests';
import { fileSystem } from './io';

export const MOBILENET_V2 = 'mobilenet-v2-1.0-224-from-onnx-int8';
export const MOBILENET_V1 = 'mobilenet-v1-0.25-224';

function modelDirOf(manifestId: string): string {
  return path.dirname(resolveManifest(manifestId).paths.get('model.json')!);
}

/** The MobileNetV2 layers model (with its classifier) from the manifest's files. */
export async function loadMobileNetV2(): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystem(modelDirOf(MOBILENET_V2)));
}

/** The MobileNet v1 0.25 layers model (with its classifier) from the manifest's files. */
export async function loadMobileNetV1(): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystem(modelDirOf(MOBILENET_V1)));
}

/** The serialised architecture of a manifest's model (for a random initialisation of it). */
export function manifestTopology(manifestId: string): tf.serialization.ConfigDict {
  const file = path.join(modelDirOf(manifestId), 'model.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { modelTopology: tf.serialization.ConfigDict }).modelTopology;
}
