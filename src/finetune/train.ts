/**
 * Fine-tuning: a new head on a starting point's encoder, trained on a few labelled galaxies.
 *   - frozen encoder (unfreezeBlocks 0): the head trains on features computed once (pass cached
 *     ones as `{ features }`, or image files, which are encoded once here);
 *   - top N blocks unfrozen (or 'all'): images, with Zoobot's augmentations, through the encoder at
 *     a lower learning rate than the head (a copy of the encoder: the starting point is untouched).
 *     Unfrozen pretrained blocks keep batch normalisation in inference mode (their statistics stay);
 *     'all' trains every layer, batch normalisation included (training from scratch).
 * Class balancing weights each class equally in the loss; early stopping watches the validation
 * loss when the training set can spare a stratified validation split (at least `minValidation`
 * examples of every class), the training loss otherwise, and keeps the best epoch's weights.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, seededRng, shuffle } from '../data/augment';
import { loaderFor, prepareBatch } from '../data/preprocess';
import { selectRows } from '../data/embeddings';
import { encode } from '../encoders/encode';
import type { Encoder } from '../encoders/registry';
import { dirichletMultinomialNLL } from '../models/dirichlet';
import { AnswerSpace, toConcentrations } from '../models/galaxy-model';
import { adam } from '../training/optimizer';
import { VERSION } from '../version';
import { abortSignal, track } from '../progress';
import { recalibrateBatchNorm } from './batch-norm-stats';
import { unfreezeTop } from './blocks';
import { buildHead, HeadKind, HeadSpec, headKernels } from '../models/head';
import { balanceWeights, outputSpec, TargetInfo, Targets } from './labels';
import { FinetuneConfig, FineTunedModel } from '../models/finetuned-model';

/** The defaults of every fine-tuning option (the CLI shows these). */
export const FINETUNE_DEFAULTS = {
  head: 'mlp' as HeadKind,
  hidden: 64,
  dropout: 0.5,
  unfreezeBlocks: 0,
  learningRate: 1e-3,
  /** Vote trees: their Dirichlet loss moves slowly. */
  treeLearningRate: 1e-2,
  l2: 1e-3,
  epochsFrozen: 100,
  epochsUnfrozen: 30,
  batchSize: 32,
  patienceFrozen: 10,
  patienceUnfrozen: 5,
  validationFraction: 0.2,
  minValidation: 3,
  balance: true,
  augment: true,
  seed: 0,
} as const;

export interface FinetuneOptions {
  /** 'linear' or the paper's 'mlp'. Default 'mlp'. */
  head?: HeadKind;
  /** MLP hidden units and dropout. Defaults 64 and 0.5. */
  hidden?: number;
  dropout?: number;
  /** Encoder blocks trained, from the top: 0 (frozen encoder, default), N, or 'all'. */
  unfreezeBlocks?: number | 'all';
  /** Adam learning rate of the head. Default 1e-3 (1e-2 for vote trees, whose Dirichlet loss moves slowly). */
  learningRate?: number;
  /** Learning rate of unfrozen encoder blocks. Default: learningRate / 10, or learningRate for scratch starts. */
  encoderLearningRate?: number;
  /** L2 penalty on the head's kernels. Default 1e-3. */
  l2?: number;
  /** Maximum epochs. Default 100 for a frozen encoder, 30 when unfreezing. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Epochs without improvement before stopping. Default 10 (frozen), 5 (unfreezing). */
  patience?: number;
  /** Fraction of each class held out for early stopping. Default 0.2. */
  validationFraction?: number;
  /** Smallest validation count per class (or in all, for regression and trees) worth using. Default 3. */
  minValidation?: number;
  /** Weight classes equally in the loss. Default true. */
  balance?: boolean;
  /** Augment images when unfreezing. Default true. */
  augment?: boolean;
  /** Seeds the split, the head's initialisation, the batch order and the augmentations. Default 0. */
  seed?: number;
  onEpoch?: (e: EpochLog) => void;
  /** Checked between epochs. Default: the ambient signal (the notebook kernel's Interrupt, src/progress.ts). */
  signal?: AbortSignal;
}

export interface EpochLog {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  best: boolean;
  seconds: number;
}

/**
 * Training input, in the targets' order: frozen-encoder features (row-major [n, dim], e.g. cached)
 * and/or image files. A frozen encoder needs either (files are encoded once); unfreezing needs the
 * files (features, when given, only set the head's standardisation).
 */
export interface FinetuneInput {
  features?: Float32Array;
  files?: string[];
}

/** Stratified (classification) or plain random validation indices, or none when too few. */
export function validationSplit(targets: Targets, fraction: number, minimum: number, rng: Rng): { train: number[]; val: number[] } {
  const n = targets.ids.length;
  const groups: number[][] = [];
  if (targets.classIndex) {
    targets.classIndex.forEach((c, i) => (groups[c] ??= []).push(i));
  } else {
    groups.push(Array.from({ length: n }, (_, i) => i));
  }
  const sizes = groups.filter(Boolean).map((g) => Math.floor(g.length * fraction));
  const perGroupMin = targets.classIndex ? minimum : 2 * minimum;
  if (fraction <= 0 || sizes.some((s) => s < perGroupMin)) return { train: Array.from({ length: n }, (_, i) => i), val: [] };
  const val: number[] = [];
  for (const g of groups.filter(Boolean)) {
    const shuffled = shuffle([...g], rng);
    val.push(...shuffled.slice(0, Math.floor(g.length * fraction)));
  }
  const held = new Set(val);
  return { train: Array.from({ length: n }, (_, i) => i).filter((i) => !held.has(i)), val: val.sort((a, b) => a - b) };
}


/** Per-example loss of a task, [n]. */
export function taskLoss(info: TargetInfo, y: tf.Tensor2D, out: tf.Tensor2D, q?: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    if (info.task === 'classification') {
      const p = tf.clipByValue(out, 1e-7, 1 - 1e-7);
      if (info.classes!.length === 2) return tf.neg(tf.sum(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))), 1)) as tf.Tensor1D;
      return tf.neg(tf.sum(tf.mul(y, tf.log(p)), 1)) as tf.Tensor1D;
    }
    if (info.task === 'regression') return tf.sum(tf.squaredDifference(y, out), 1) as tf.Tensor1D;
    return dirichletMultinomialNLL(y, toConcentrations(out), q!);
  });
}

function rows(data: Float32Array, width: number, idx: number[]): tf.Tensor2D {
  const out = new Float32Array(idx.length * width);
  idx.forEach((i, r) => out.set(data.subarray(i * width, (i + 1) * width), r * width));
  return tf.tensor2d(out, [idx.length, width]);
}

async function cloneModel(m: tf.LayersModel): Promise<tf.LayersModel> {
  const copy = await tf.models.modelFromJSON({ modelTopology: m.toJSON(undefined, false) as tf.serialization.ConfigDict });
  copy.setWeights(m.getWeights());
  return copy;
}

/** Every option with its default filled in, as one run uses them. */
interface ResolvedOptions {
  head: HeadKind;
  hidden: number;
  dropout: number;
  validationFraction: number;
  minValidation: number;
  unfreeze: number | 'all';
  lr: number;
  encLr: number;
  l2: number;
  epochs: number;
  batchSize: number;
  patience: number;
  balance: boolean;
  augment: boolean;
  seed: number;
}

function resolveOptions(options: FinetuneOptions, targets: Targets, start: Encoder): ResolvedOptions {
  const D = FINETUNE_DEFAULTS;
  const unfreeze = options.unfreezeBlocks ?? D.unfreezeBlocks;
  const deep = unfreeze !== 0;
  const lr = options.learningRate ?? (targets.info.task === 'tree' ? D.treeLearningRate : D.learningRate);
  return {
    head: options.head ?? D.head,
    hidden: options.hidden ?? D.hidden,
    dropout: options.dropout ?? D.dropout,
    validationFraction: options.validationFraction ?? D.validationFraction,
    minValidation: options.minValidation ?? D.minValidation,
    unfreeze,
    lr,
    encLr: options.encoderLearningRate ?? (start.pretraining === 'none' ? lr : lr / 10),
    l2: options.l2 ?? D.l2,
    epochs: options.epochs ?? (deep ? D.epochsUnfrozen : D.epochsFrozen),
    batchSize: options.batchSize ?? D.batchSize,
    patience: options.patience ?? (deep ? D.patienceUnfrozen : D.patienceFrozen),
    balance: options.balance ?? D.balance,
    augment: options.augment ?? D.augment,
    seed: options.seed ?? D.seed,
  };
}

function checkInput(targets: Targets, input: FinetuneInput, o: ResolvedOptions): void {
  const n = targets.ids.length;
  if (n === 0) throw new Error('galmorph: no training examples');
  if (!input.features && !input.files) throw new Error('galmorph: finetune needs features or image files');
  if (o.unfreeze !== 0 && !input.files) throw new Error(`galmorph: unfreezing encoder blocks (${o.unfreeze}) needs image files, not only cached features`);
  if (input.files && input.files.length !== n) throw new Error(`galmorph: ${input.files.length} image files for ${n} targets`);
}

interface EarlyStopping {
  epochs: number;
  patience: number;
  /** One epoch of training; returns the mean training loss. */
  trainEpoch: () => Promise<number>;
  /** After each epoch, before validation (e.g. batch-norm recalibration). */
  afterEpoch: () => Promise<void>;
  /** Validation loss, or undefined when there is no validation split. */
  validate: () => Promise<number | undefined>;
  /** Variables whose values at the best epoch are kept. */
  variables: tf.LayerVariable[];
  onEpoch?: (e: EpochLog) => void;
  signal?: AbortSignal;
}

/**
 * Trains epoch by epoch until `patience` epochs bring no improvement of the monitored loss
 * (validation, else training), then restores the variables of the best epoch.
 */
async function trainWithEarlyStopping(s: EarlyStopping): Promise<{ epochsRun: number; bestEpoch: number }> {
  let snapshot: tf.Tensor[] = [];
  const takeSnapshot = () => {
    tf.dispose(snapshot);
    snapshot = s.variables.map((v) => tf.keep(v.read().clone()));
  };
  let best = Infinity;
  let bestEpoch = 0;
  let bad = 0;
  let epoch = 0;
  try {
    takeSnapshot();
    // No bar of its own (a fine-tuning is one step of a learning curve's bar); it only stops.
    const tracker = track('fine-tuning', 'epochs', { progress: () => undefined, ...(s.signal ? { signal: s.signal } : {}) });
    while (epoch < s.epochs && bad < s.patience) {
      tracker.check(epoch, s.epochs);
      epoch++;
      const t0 = Date.now();
      const trainLoss = await s.trainEpoch();
      await s.afterEpoch();
      const valLoss = await s.validate();
      const monitored = valLoss ?? trainLoss;
      const improved = monitored < best - 1e-4;
      if (improved) {
        best = monitored;
        bestEpoch = epoch;
        bad = 0;
        takeSnapshot();
      } else bad++;
      s.onEpoch?.({ epoch, trainLoss, valLoss, best: improved, seconds: (Date.now() - t0) / 1000 });
    }
    s.variables.forEach((v, i) => v.write(snapshot[i]!));
  } finally {
    tf.dispose(snapshot);
  }
  return { epochsRun: epoch, bestEpoch };
}

/**
 * Fine-tunes a new head (and optionally the top of the encoder) on labelled galaxies. The steps:
 * options resolved; the encoder (a copy when it trains); frozen features; a validation split; the
 * head, standardised on the training features; epochs with early stopping; the saved description.
 */
export async function finetune(start: Encoder, targets: Targets, input: FinetuneInput, options: FinetuneOptions = {}): Promise<FineTunedModel> {
  const started = Date.now();
  const o = resolveOptions(options, targets, start);
  checkInput(targets, input, o);
  const n = targets.ids.length;
  const deep = o.unfreeze !== 0;
  const rng = seededRng(o.seed * 7919 + 17);

  // The encoder that trains is a copy; a frozen one is the starting point's own.
  const encoder = deep ? await cloneModel(start.model) : start.model;
  const unfrozen = deep ? unfreezeTop(encoder, o.unfreeze) : [];
  const dim = (encoder.outputs[0]!.shape as number[])[1]!;
  // Training every layer changes the features entirely: no standardisation from the initial ones.
  const trainsAll = o.unfreeze === 'all';
  const features = trainsAll ? undefined : (input.features ?? (await encode(start, input.files!)).vectors);
  if (features && features.length !== n * dim) throw new Error(`galmorph: features of length ${features.length} are not ${n} rows of ${dim} (the encoder's output)`);

  const { train, val } = validationSplit(targets, o.validationFraction, o.minValidation, rng);
  const spec: HeadSpec = { kind: o.head, ...outputSpec(targets.info), hidden: o.hidden, dropout: o.dropout, seed: o.seed };
  const { model: head, standardize } = buildHead(dim, spec);
  if (features) standardize.fit(selectRows({ ids: targets.ids, vectors: features, dim }, train), dim);

  const weights = o.balance && targets.classIndex ? balanceWeights(targets.classIndex, targets.info.classes!.length) : new Float32Array(n).fill(1);
  const q = targets.info.task === 'tree' ? AnswerSpace.fromNames([targets.info.schema!]).questionMatrix() : undefined;
  const featureTensor = deep ? undefined : tf.tensor2d(features!, [n, dim]);
  const p = start.preprocess;
  const loader = deep ? loaderFor(p) : undefined;
  const files = input.files ?? [];
  if (loader) await loader.load(files);

  const batchInput = async (idx: number[], training: boolean): Promise<tf.Tensor> => {
    if (featureTensor) return tf.gather(featureTensor, idx);
    const pixels = await Promise.all(idx.map((i) => loader!.get(files[i]!)));
    return prepareBatch(pixels, p, training && o.augment ? rng : undefined);
  };
  // Batch normalisation uses batch statistics only when the whole encoder trains; then its moving
  // statistics are recomputed from the training images before every evaluation.
  const recalibrate = async () => {
    if (!trainsAll) return;
    const batches: tf.Tensor[] = [];
    for (let s = 0; s < train.length; s += o.batchSize) batches.push(await batchInput(train.slice(s, s + o.batchSize), false));
    recalibrateBatchNorm(encoder, batches);
    tf.dispose(batches);
  };
  const forward = (x: tf.Tensor, training: boolean) => {
    const f = deep ? (encoder.apply(x, { training: training && trainsAll }) as tf.Tensor) : x;
    return head.apply(f, { training }) as tf.Tensor2D;
  };
  const headVars = head.trainableWeights.map((w) => w.read() as tf.Variable);
  const encVars = deep ? encoder.trainableWeights.map((w) => w.read() as tf.Variable) : [];
  const kernels = headKernels(head);
  const headOpt = adam(o.lr);
  const encOpt = adam(o.encLr);

  const weightedLoss = (y: tf.Tensor2D, out: tf.Tensor2D, w: tf.Tensor1D) => tf.div(tf.sum(tf.mul(taskLoss(targets.info, y, out, q), w)), y.shape[0]) as tf.Scalar;
  const step = async (idx: number[]): Promise<number> => {
    const x = await batchInput(idx, true);
    const y = rows(targets.y, targets.width, idx);
    const w = tf.tensor1d(idx.map((i) => weights[i]!));
    const { value, grads } = tf.tidy(() =>
      tf.variableGrads(() => {
        const loss = weightedLoss(y, forward(x, true), w);
        const penalty = kernels.reduce((acc, k) => tf.add(acc, tf.sum(tf.square(k.read()))), tf.scalar(0));
        return tf.add(loss, tf.mul(penalty, o.l2)) as tf.Scalar;
      }, [...headVars, ...encVars]),
    );
    const pick = (vars: tf.Variable[]) => vars.map((v) => ({ name: v.name, tensor: grads[v.name]! }));
    headOpt.applyGradients(pick(headVars));
    if (encVars.length) encOpt.applyGradients(pick(encVars));
    const loss = (await value.data())[0]!;
    tf.dispose([x, y, w, value, grads]);
    return loss;
  };
  const evalLoss = async (idx: number[]): Promise<number> => {
    let total = 0;
    for (let s = 0; s < idx.length; s += o.batchSize) {
      const b = idx.slice(s, s + o.batchSize);
      const x = await batchInput(b, false);
      const y = rows(targets.y, targets.width, b);
      const w = tf.tensor1d(b.map((i) => weights[i]!));
      const l = tf.tidy(() => tf.sum(tf.mul(taskLoss(targets.info, y, forward(x, false), q), w)));
      total += (await l.data())[0]!;
      tf.dispose([x, y, w, l]);
    }
    return total / idx.length;
  };

  let run: { epochsRun: number; bestEpoch: number };
  try {
    run = await trainWithEarlyStopping({
      epochs: o.epochs,
      patience: o.patience,
      trainEpoch: async () => {
        const order = shuffle([...train], rng);
        let sum = 0;
        for (let s = 0; s < order.length; s += o.batchSize) {
          const b = order.slice(s, s + o.batchSize);
          sum += (await step(b)) * b.length;
        }
        return sum / order.length;
      },
      afterEpoch: recalibrate,
      validate: async () => (val.length ? evalLoss(val) : undefined),
      variables: [...head.weights, ...(deep ? encoder.weights : [])],
      onEpoch: options.onEpoch,
      signal: abortSignal(options.signal),
    });
  } finally {
    featureTensor?.dispose();
    q?.dispose();
    headOpt.dispose();
    encOpt.dispose();
    loader?.clear();
  }
  const config = describeRun(start, targets, spec, o, {
    unfrozen,
    featureDim: dim,
    ...run,
    monitor: val.length ? 'validation loss' : 'training loss',
    trainExamples: train.length,
    validationExamples: val.length,
    seconds: (Date.now() - started) / 1000,
  });
  return new FineTunedModel(encoder, head, config, deep ? [encoder] : []);
}

/** What a fine-tuned model saves about how it was made (config.json). */
function describeRun(
  start: Encoder,
  targets: Targets,
  spec: HeadSpec,
  o: ResolvedOptions,
  r: { unfrozen: string[]; featureDim: number; epochsRun: number; bestEpoch: number; monitor: 'validation loss' | 'training loss'; trainExamples: number; validationExamples: number; seconds: number },
): FinetuneConfig {
  return {
    kind: 'galmorph-finetuned',
    galmorph: VERSION,
    start: {
      id: start.id,
      description: start.description,
      pretraining: start.pretraining,
      preprocess: start.preprocess,
      ...(start.modelDir ? { modelDir: start.modelDir } : {}),
      ...(start.seed !== undefined ? { seed: start.seed } : {}),
    },
    targets: targets.info,
    head: spec,
    unfreezeBlocks: o.unfreeze,
    unfrozen: r.unfrozen,
    featureDim: r.featureDim,
    training: {
      learningRate: o.lr,
      encoderLearningRate: o.encLr,
      epochs: o.epochs,
      epochsRun: r.epochsRun,
      bestEpoch: r.bestEpoch,
      monitor: r.monitor,
      batchSize: o.batchSize,
      patience: o.patience,
      l2: o.l2,
      augment: o.unfreeze !== 0 && o.augment,
      balance: o.balance,
      seed: o.seed,
      trainExamples: r.trainExamples,
      validationExamples: r.validationExamples,
      seconds: r.seconds,
      backend: tf.getBackend(),
    },
  };
}
