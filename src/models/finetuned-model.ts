/**
 * A fine-tuned model: the starting point's encoder, a new head, what its outputs mean, and how it
 * was trained. Saved as a folder that `galmorph predict --model <dir>` reads:
 *   config.json   { kind: 'galmorph-finetuned', start, targets, head, training, ... }
 *   model/        one layers model, image → output (encoder and head together)
 * `FineTunedModel.load(dir)` splits the saved model back into encoder and head.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expectedFractions } from './dirichlet';
import { AnswerSpace, toConcentrations } from './galaxy-model';
import { fileSystem } from './io';
import { HEAD_PREFIX, HeadSpec } from './head';
import { BatchOptions, mapImageBatches, readOutput } from '../data/batches';
import { Preprocess } from '../data/preprocess';
import { disposeModels } from './surgery';
// Custom layers used by saved models, registered before loading.
import './head';
import './layers/batch-norm';
import './layers/swish';
import './layers/mc-dropout';

export const FINETUNED_KIND = 'galmorph-finetuned';

export type FinetuneTask = 'classification' | 'regression' | 'tree';
export const FINETUNE_TASKS: FinetuneTask[] = ['classification', 'regression', 'tree'];

/** What the targets mean (saved with a fine-tuned model). */
export interface TargetInfo {
  task: FinetuneTask;
  /** The catalogue column read (classification, regression). */
  column?: string;
  /** Class names in output order; with two, the output is the probability of classes[1]. */
  classes?: string[];
  /** Regression: the targets' mean and standard deviation (outputs are standardised). */
  mean?: number;
  std?: number;
  /** Tree: schema name and its answers in output order. */
  schema?: string;
  answers?: string[];
}


/** Where a model's features come from: an encoder of the registry (saved with a fine-tuned model). */
export interface EncoderInfo {
  id: string;
  description: string;
  /** What the weights learned from. */
  pretraining: 'galaxy zoo' | 'imagenet' | 'none';
  preprocess: Preprocess;
  /** For galaxy models: the model folder it was loaded from. */
  modelDir?: string;
  /** For scratch encoders: the initialisation seed. */
  seed?: number;
}

export interface TrainingSummary {
  /** Head learning rate, and the encoder's (its unfrozen blocks). */
  learningRate: number;
  encoderLearningRate: number;
  epochs: number;
  /** Epochs actually run, and the one whose weights were kept. */
  epochsRun: number;
  bestEpoch: number;
  /** What early stopping watched. */
  monitor: 'validation loss' | 'training loss';
  batchSize: number;
  patience: number;
  l2: number;
  augment: boolean;
  balance: boolean;
  seed: number;
  trainExamples: number;
  validationExamples: number;
  seconds: number;
  backend?: string;
}

export interface FinetuneConfig {
  kind: typeof FINETUNED_KIND;
  galmorph: string;
  start: EncoderInfo;
  targets: TargetInfo;
  head: HeadSpec;
  /** Encoder blocks trained (0: frozen encoder), and their names. */
  unfreezeBlocks: number | 'all';
  unfrozen: string[];
  featureDim: number;
  training: TrainingSummary;
  /** Scores on held-out data, when the caller measured them. */
  metrics?: Record<string, number>;
}

export interface FinetunePrediction {
  /** Output columns: `p_<class>`, `<column>_predicted`, or `<answer>_fraction`. */
  columns: string[];
  /** Row-major [n, columns]. */
  values: Float32Array;
  /** Classification: the most probable class of each example. */
  labels?: string[];
}

/** One output column of predictions (e.g. `p_ring`), [n]; the error lists the columns there are. */
export function predictionColumn(p: Pick<FinetunePrediction, 'columns' | 'values'>, name: string): Float32Array {
  const j = p.columns.indexOf(name);
  if (j < 0) throw new Error(`galmorph: no prediction column '${name}'. Columns: ${p.columns.join(', ')}`);
  const w = p.columns.length;
  return Float32Array.from({ length: p.values.length / w }, (_, i) => p.values[i * w + j]!);
}

/** True when `dir` holds a fine-tuned model (config.json of kind galmorph-finetuned). */
export function isFinetunedModelDir(dir: string): boolean {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return false;
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { kind?: string }).kind === FINETUNED_KIND;
  } catch {
    return false;
  }
}

export class FineTunedModel {
  constructor(
    /** Image → features. */
    readonly encoder: tf.LayersModel,
    /** Features → raw outputs (sigmoid, softmax, or standardised value). */
    readonly head: tf.LayersModel,
    readonly config: FinetuneConfig,
    /** Models whose weights this object owns besides the head (e.g. an unfrozen copy of the encoder). */
    private readonly owned: tf.LayersModel[] = [],
  ) {}

  /** The output columns of predictions. */
  columns(): string[] {
    const t = this.config.targets;
    if (t.task === 'classification') return t.classes!.map((c) => `p_${c}`);
    if (t.task === 'regression') return [`${t.column}_predicted`];
    return t.answers!.map((a) => `${a}_fraction`);
  }

  /** Raw head outputs [n, outputs] → what they mean (probabilities, values, vote fractions). */
  async interpret(raw: Float32Array, n: number): Promise<FinetunePrediction> {
    const t = this.config.targets;
    const columns = this.columns();
    const w = raw.length / Math.max(n, 1);
    if (t.task === 'classification') {
      const k = t.classes!.length;
      const values = new Float32Array(n * k);
      for (let i = 0; i < n; i++) {
        if (k === 2) {
          values[i * 2] = 1 - raw[i]!;
          values[i * 2 + 1] = raw[i]!;
        } else values.set(raw.subarray(i * w, (i + 1) * w), i * k);
      }
      const labels = Array.from({ length: n }, (_, i) => {
        let best = 0;
        for (let c = 1; c < k; c++) if (values[i * k + c]! > values[i * k + best]!) best = c;
        return t.classes![best]!;
      });
      return { columns, values, labels };
    }
    if (t.task === 'regression') return { columns, values: Float32Array.from(raw, (v) => v * t.std! + t.mean!), labels: undefined };
    const space = AnswerSpace.fromNames([t.schema!]);
    const q = space.questionMatrix();
    const fractions = tf.tidy(() => expectedFractions(toConcentrations(tf.tensor2d(raw, [n, w])), q));
    // data(), not dataSync(): the webgpu backend cannot read synchronously in Node.
    const values = (await fractions.data()) as Float32Array;
    tf.dispose([q, fractions]);
    return { columns, values };
  }

  /** Raw outputs of the head for features [n, featureDim] (row-major). */
  async headOutputs(features: Float32Array): Promise<Float32Array> {
    const n = features.length / this.config.featureDim;
    if (!Number.isInteger(n)) throw new Error(`galmorph: features of length ${features.length} are not rows of ${this.config.featureDim}`);
    const out = tf.tidy(() => this.head.apply(tf.tensor2d(features, [n, this.config.featureDim]), { training: false }) as tf.Tensor);
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  }

  /** Predictions from frozen-encoder features (e.g. cached ones). */
  async predictFeatures(features: Float32Array): Promise<FinetunePrediction> {
    return this.interpret(await this.headOutputs(features), features.length / this.config.featureDim);
  }

  /** Predictions for image files (central view). */
  async predictFiles(files: string[], options: BatchOptions = {}): Promise<FinetunePrediction> {
    const width = (this.head.outputs[0]!.shape as number[])[1]!;
    const raw = await mapImageBatches(files, this.config.start.preprocess, width, (x) =>
      readOutput(() => this.head.apply(this.encoder.apply(x, { training: false }), { training: false }) as tf.Tensor), { label: 'predict (fine-tuned)', ...options });
    return this.interpret(raw, files.length);
  }

  /** Encoder and head as one image → output model (sharing their layers and weights). */
  composed(): tf.LayersModel {
    let x = this.encoder.outputs[0]!;
    for (const layer of this.head.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      x = layer.apply(x) as tf.SymbolicTensor;
    }
    return tf.model({ inputs: this.encoder.inputs, outputs: x, name: 'galmorph_finetuned' });
  }

  toJSON(): FinetuneConfig {
    return this.config;
  }

  /** Writes `<dir>/config.json` and `<dir>/model/`. */
  async save(dir: string): Promise<void> {
    const abs = path.resolve(dir);
    fs.mkdirSync(abs, { recursive: true });
    await this.composed().save(fileSystem(path.join(abs, 'model')));
    fs.writeFileSync(path.join(abs, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
  }

  static async load(dir: string): Promise<FineTunedModel> {
    const abs = path.resolve(dir);
    const file = path.join(abs, 'config.json');
    if (!fs.existsSync(file)) throw new Error(`galmorph: ${abs} is not a fine-tuned model folder (no config.json). Make one with \`galmorph finetune --out ${dir}\`.`);
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as FinetuneConfig;
    if (config.kind !== FINETUNED_KIND) throw new Error(`galmorph: ${file} is not a fine-tuned model (kind '${config.kind ?? 'none'}', expected '${FINETUNED_KIND}')`);
    const composed = await tf.loadLayersModel(fileSystem(path.join(abs, 'model')));
    const headLayers = composed.layers.filter((l) => l.name.startsWith(HEAD_PREFIX));
    if (headLayers.length === 0) throw new Error(`galmorph: ${path.join(abs, 'model')} has no '${HEAD_PREFIX}*' layers: not a fine-tuned model`);
    const encoder = tf.model({ inputs: composed.inputs, outputs: headLayers[0]!.input as tf.SymbolicTensor, name: 'encoder' });
    const input = tf.input({ shape: [config.featureDim], name: `${HEAD_PREFIX}features` });
    let x: tf.SymbolicTensor = input;
    for (const l of headLayers) x = l.apply(x) as tf.SymbolicTensor;
    const head = tf.model({ inputs: input, outputs: x, name: `${HEAD_PREFIX}head` });
    return new FineTunedModel(encoder, head, config, [composed]);
  }

  private readonly cleanups: (() => void)[] = [];

  /** Something else to free with this model (e.g. the starting point a frozen encoder belongs to). */
  adopt(dispose: () => void): void {
    this.cleanups.push(dispose);
  }

  /** Frees the head and the models it owns (a frozen encoder stays with its starting point unless adopted). */
  dispose(): void {
    disposeModels(this.head, ...this.owned);
    this.cleanups.splice(0).forEach((f) => f());
  }
}
