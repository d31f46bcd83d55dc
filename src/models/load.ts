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

/** The pretrained galmorph model committed with the project. */
export function defaultModelDir(): string {
  return path.join(projectRoot(), 'models', 'galmorph-pretrained');
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
