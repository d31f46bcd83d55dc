/**
 * Loading trained galaxy models: `<dir>/config.json` (written by training) and the best weights in
 * `<dir>/model/`. The committed pretrained model is the default.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { projectRoot } from '../paths';
import { AnswerSpace, GalaxyModelConfig, LoadedGalaxyModel } from './galaxy-model';
import { fileSystem } from './io';
// Registers the custom layers before any model that uses them is deserialised.
import './layers/batch-norm';
import './layers/mc-dropout';
import './layers/swish';

/**
 * The committed model whose predicted vote fractions galmorph reports when none is given
 * (`galmorph predict`, `galmorph evaluate`, the explorer's predictions and "describe in words"):
 * trained on every vote it has, because predictions are best served by all of them.
 */
export function defaultModelDir(): string {
  return path.join(projectRoot(), 'models', 'galmorph-all');
}

/**
 * The committed model whose representation the `galmorph` encoder is (`galmorph embed`, similarity,
 * anomaly, fine-tuning and notebooks 02-04): trained without any label those experiments evaluate
 * (no GZ2/Kaggle odd or odd-feature votes, no GZ1 merger class, never a ring label), as the paper's
 * encoder never saw its evaluation labels. Its model card lists what was excluded.
 */
export function defaultEncoderDir(): string {
  return path.join(projectRoot(), 'models', 'galmorph-honest');
}

export async function loadGalaxyModel(dir: string = defaultModelDir()): Promise<LoadedGalaxyModel> {
  const abs = path.resolve(dir);
  const configFile = path.join(abs, 'config.json');
  if (!fs.existsSync(configFile)) {
    throw new Error(`galmorph: ${abs} is not a galmorph model folder (no config.json). Train one with \`galmorph train --out ${dir}\`.`);
  }
  const { config, kind } = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { config: GalaxyModelConfig; kind?: string };
  if (kind === 'galmorph-finetuned') {
    throw new Error(`galmorph: ${abs} is a fine-tuned model, not a galaxy model: load it with FineTunedModel.load (galmorph predict reads both)`);
  }
  const model = await tf.loadLayersModel(fileSystem(path.join(abs, 'model')));
  return { model, config, space: AnswerSpace.fromNames(config.schemas), dir: abs };
}
