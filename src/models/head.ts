/**
 * Fine-tuning heads on an encoder's pooled features. Both start by standardising the features with
 * the training set's mean and standard deviation (a fixed, saved layer), then
 *   linear  one dense layer to the outputs;
 *   mlp     the paper's head: dense 64 (ReLU), dropout, dense 64 (ReLU), dropout, dense to the outputs;
 * with a sigmoid output for two classes and vote trees, softmax for more classes, and a linear
 * output for regression. Layer names start with `finetune_` so a saved fine-tuned model can be
 * split back into encoder and head.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededDropout } from './layers/seeded-dropout';

export type HeadKind = 'linear' | 'mlp';
export const HEAD_KINDS: HeadKind[] = ['linear', 'mlp'];
export type OutputActivation = 'sigmoid' | 'softmax' | 'linear';

export interface HeadSpec {
  kind: HeadKind;
  outputs: number;
  activation: OutputActivation;
  /** Units of each hidden layer of the MLP. Default 64. */
  hidden?: number;
  /** Dropout rate after each hidden layer of the MLP. Default 0.5. */
  dropout?: number;
  /** Seed of the weight initialisers and the dropout masks. Default 0. */
  seed?: number;
}

export const HEAD_PREFIX = 'finetune_';

/** (x − mean) · invStd per feature, with the statistics stored as (non-trainable) weights. */
export class FeatureStandardize extends tf.layers.Layer {
  static className = 'GalmorphFeatureStandardize';
  private mean!: tf.LayerVariable;
  private invStd!: tf.LayerVariable;

  constructor(args: { name?: string } = {}) {
    super(args);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const dim = shape[shape.length - 1];
    if (dim == null) throw new Error(`galmorph: ${this.name} needs a known feature count, got shape [${shape.join(', ')}]`);
    this.mean = this.addWeight('mean', [dim], 'float32', tf.initializers.zeros(), undefined, false);
    this.invStd = this.addWeight('inv_std', [dim], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.mul(tf.sub(x, this.mean.read()), this.invStd.read()));
  }

  /** Sets the statistics from features [n, dim] (row-major): their mean and standard deviation. */
  fit(features: Float32Array, dim: number): void {
    const n = features.length / dim;
    if (!Number.isInteger(n) || n < 1) throw new Error(`galmorph: cannot standardise ${features.length} values as rows of ${dim}`);
    const mean = new Float32Array(dim);
    const inv = new Float32Array(dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += features[i * dim + d]! / n;
    const std = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      let v = 0;
      for (let i = 0; i < n; i++) v += (features[i * dim + d]! - mean[d]!) ** 2;
      std[d] = Math.sqrt(v / n);
    }
    // Constant features (e.g. dead ReLUs) stay at zero instead of blowing up; the threshold is
    // relative, as features of an untrained network can be tiny (1e-16) yet informative.
    const top = std.reduce((a, b) => Math.max(a, b), 0);
    for (let d = 0; d < dim; d++) inv[d] = std[d]! > 1e-6 * top && std[d]! > 0 ? 1 / std[d]! : 0;
    tf.tidy(() => this.setWeights([tf.tensor1d(mean), tf.tensor1d(inv)]));
  }
}
tf.serialization.registerClass(FeatureStandardize);

/** Applies a new head to a feature tensor (symbolic); returns the output and its standardiser. */
export function applyHead(features: tf.SymbolicTensor, spec: HeadSpec): { output: tf.SymbolicTensor; standardize: FeatureStandardize } {
  if (!HEAD_KINDS.includes(spec.kind)) throw new Error(`galmorph: unknown head '${spec.kind}'. Valid choices: ${HEAD_KINDS.join(', ')}`);
  const seed = spec.seed ?? 0;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 101 + k });
  const standardize = new FeatureStandardize({ name: `${HEAD_PREFIX}standardize` });
  let x = standardize.apply(features) as tf.SymbolicTensor;
  if (spec.kind === 'mlp') {
    const hidden = spec.hidden ?? 64;
    const rate = spec.dropout ?? 0.5;
    for (let k = 1; k <= 2; k++) {
      x = tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(k), name: `${HEAD_PREFIX}dense_${k}` }).apply(x) as tf.SymbolicTensor;
      if (rate > 0) x = new SeededDropout({ rate, seed: seed * 101 + k, name: `${HEAD_PREFIX}dropout_${k}` }).apply(x) as tf.SymbolicTensor;
    }
  }
  const output = tf.layers
    .dense({ units: spec.outputs, activation: spec.activation, kernelInitializer: init(9), name: `${HEAD_PREFIX}output` })
    .apply(x) as tf.SymbolicTensor;
  return { output, standardize };
}

/** A head as a model of its own: features [dim] → outputs. */
export function buildHead(dim: number, spec: HeadSpec): { model: tf.LayersModel; standardize: FeatureStandardize } {
  const input = tf.input({ shape: [dim], name: `${HEAD_PREFIX}features` });
  const { output, standardize } = applyHead(input, spec);
  return { model: tf.model({ inputs: input, outputs: output, name: `${HEAD_PREFIX}head` }), standardize };
}

/** Kernels of the head's dense layers (for the L2 penalty). */
export function headKernels(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.filter((l) => l.name.startsWith(HEAD_PREFIX) && l.getClassName() === 'Dense').map((l) => l.weights[0]!);
}
