/**
 * Training the galaxy model on volunteer votes: seeded train/validation/test split, Zoobot's
 * augmentations, Dirichlet-multinomial loss, early stopping on validation loss, a checkpoint after
 * every epoch (model, optimizer state, progress) written atomically, and `resume` after an
 * interruption: a run killed mid-epoch loses at most that epoch.
 *
 * Output folder:
 *   config.json       model configuration and output answers (how to rebuild it)
 *   split.json        the ids of the train / val / test galaxies
 *   checkpoint/       last finished epoch: model, optimizer.json, state.json
 *   model/            best epoch by validation loss (what predict and embed load)
 *   train-log.jsonl   one JSON line per epoch
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ImageLoader, Pixels } from '../data/images';
import { Rng, seededRng, shuffle } from '../data/augment';
import { decodeSize, inputBatch } from '../data/preprocess';
import { dirichletMultinomialNLL } from '../models/dirichlet';
import { AnswerSpace, buildGalaxyModel, GalaxyModelConfig, toConcentrations } from '../models/galaxy-model';
import { fileSystem, loadOptimizer, saveOptimizer } from '../models/io';
import { trainStep } from './step';
import { describeBackend, initBackend } from '../backend/select';
import type { VoteDataset } from '../schemas/vote-datasets';
import { assemble, splitIndices, TrainingSet } from './vote-data';

/** The defaults of the training options (the CLI shows these). */
export const TRAIN_DEFAULTS = { epochs: 15, batchSize: 32, learningRate: 1e-3, patience: 3, seed: 0 } as const;

export interface TrainOptions {
  datasets: VoteDataset[];
  /** Output folder. */
  out: string;
  model: Omit<GalaxyModelConfig, 'schemas'>;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Epochs without a better validation loss before stopping. Default 3. */
  patience?: number;
  seed?: number;
  /** Fractions of the galaxies held out. Default 0.1 each. */
  split?: { val: number; test: number };
  /** Zoobot's rotations, flips and random resized crops. Default true. */
  augment?: boolean;
  /** Continue from `out/checkpoint`. */
  resume?: boolean;
  /** Examples per forward/backward pass (see trainStep). */
  microBatch?: number;
  /** Stop each epoch after this many steps (quick runs and tests). */
  maxStepsPerEpoch?: number;
  /** Progress within an epoch. */
  onStep?: (epoch: number, step: number, steps: number, loss: number) => void;
  log?: (line: string) => void;
}

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  val_loss: number;
  seconds: number;
  best: boolean;
  finished: string;
}

interface TrainState {
  epoch: number;
  bestValLoss: number;
  badEpochs: number;
}

function meanLoss(counts: tf.Tensor2D, out: tf.Tensor, q: tf.Tensor2D): tf.Scalar {
  return tf.mean(dirichletMultinomialNLL(counts, toConcentrations(out), q)) as tf.Scalar;
}

async function saveCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<void> {
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await model.save(fileSystem(tmp));
  await saveOptimizer(optimizer, path.join(tmp, 'optimizer.json'));
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state));
  // Swap in the complete checkpoint; a kill between the two renames leaves `.old`, found on resume.
  if (fs.existsSync(dir)) fs.renameSync(dir, `${dir}.old`);
  fs.renameSync(tmp, dir);
  fs.rmSync(`${dir}.old`, { recursive: true, force: true });
}

/** Writes config.json (and the model's answers) so predict/embed can rebuild the model. */
function writeConfig(out: string, config: GalaxyModelConfig, space: AnswerSpace, set: TrainingSet, options: TrainOptions, backend: string): void {
  const info = {
    config,
    answers: space.answers,
    datasets: options.datasets.map((d) => ({ id: d.id, galaxies: d.catalog.length, schema: d.schema, votes: d.method })),
    training: {
      epochs: options.epochs ?? TRAIN_DEFAULTS.epochs,
      batchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
      learningRate: options.learningRate ?? TRAIN_DEFAULTS.learningRate,
      patience: options.patience ?? TRAIN_DEFAULTS.patience,
      seed: options.seed ?? TRAIN_DEFAULTS.seed,
      augment: options.augment ?? true,
      galaxies: set.ids.length,
      backend,
    },
  };
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(info, null, 2) + '\n');
}

/** Trains (or resumes training of) a galaxy model; returns the epoch records of this run. */
export async function trainGalaxyModel(options: TrainOptions): Promise<EpochRecord[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const epochs = options.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = options.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const patience = options.patience ?? TRAIN_DEFAULTS.patience;
  const seed = options.seed ?? TRAIN_DEFAULTS.seed;
  const schemas = [...new Set(options.datasets.map((d) => d.schema))];
  const config: GalaxyModelConfig = { ...options.model, schemas };
  const space = AnswerSpace.fromNames(schemas);
  const set = assemble(options.datasets, space);
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const checkpointDir = path.join(out, 'checkpoint');
  const logFile = path.join(out, 'train-log.jsonl');

  if (options.resume && fs.existsSync(path.join(out, 'config.json'))) {
    // Resuming with other data or another architecture would silently mix two runs.
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { config: GalaxyModelConfig; datasets: { id: string }[] };
    const before = JSON.stringify({ config: saved.config, datasets: saved.datasets.map((d) => d.id) });
    const now = JSON.stringify({ config, datasets: options.datasets.map((d) => d.id) });
    if (before !== now) throw new Error(`galmorph: cannot resume ${out}: it was trained with ${before}, this run asks for ${now}`);
  }
  const split = splitIndices(set.ids.length, seed, options.split ?? { val: 0.1, test: 0.1 });
  fs.writeFileSync(path.join(out, 'split.json'), JSON.stringify({ seed, train: split.train.map((i) => set.ids[i]), val: split.val.map((i) => set.ids[i]), test: split.test.map((i) => set.ids[i]) }));
  writeConfig(out, config, space, set, options, describeBackend(await initBackend()));

  let model: tf.LayersModel;
  const optimizer = tf.train.adam(options.learningRate ?? TRAIN_DEFAULTS.learningRate);
  let state: TrainState = { epoch: 0, bestValLoss: Infinity, badEpochs: 0 };
  if (options.resume && !fs.existsSync(checkpointDir) && fs.existsSync(`${checkpointDir}.old`)) fs.renameSync(`${checkpointDir}.old`, checkpointDir);
  if (options.resume && fs.existsSync(path.join(checkpointDir, 'state.json'))) {
    model = await tf.loadLayersModel(fileSystem(checkpointDir));
    state = JSON.parse(fs.readFileSync(path.join(checkpointDir, 'state.json'), 'utf8')) as TrainState;
    // Adam's slots exist only after a first step; create them, then overwrite with the saved ones.
    await loadOptimizerAfterWarmup(model, optimizer, checkpointDir);
    const kept = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.trim() && (JSON.parse(l) as EpochRecord).epoch <= state.epoch)
      : [];
    fs.writeFileSync(logFile, kept.map((l) => l + '\n').join(''));
    log(`resuming after epoch ${state.epoch} (best validation loss ${state.bestValLoss.toFixed(4)})`);
  } else {
    if (options.resume) log('no checkpoint to resume from: starting afresh');
    model = buildGalaxyModel(config);
    fs.writeFileSync(logFile, '');
  }

  const loader = new ImageLoader({ size: decodeSize(config.size), greyscale: config.channels === 1 });
  log(`decoding ${set.files.length} images at ${decodeSize(config.size)} px (cached for later epochs)`);
  await loader.load(set.files);
  const q = space.questionMatrix();
  const rng = seededRng(seed * 7919 + state.epoch + 1);
  const records: EpochRecord[] = [];
  try {
    for (let epoch = state.epoch + 1; epoch <= epochs; epoch++) {
      if (state.badEpochs >= patience) {
        log(`early stop: no better validation loss for ${patience} epochs`);
        break;
      }
      const started = Date.now();
      const order = shuffle([...split.train], rng);
      let steps = Math.ceil(order.length / batchSize);
      if (options.maxStepsPerEpoch) steps = Math.min(steps, options.maxStepsPerEpoch);
      let sum = 0;
      for (let s = 0; s < steps; s++) {
        const idx = order.slice(s * batchSize, (s + 1) * batchSize);
        const pixels = await Promise.all(idx.map((i) => loader.get(set.files[i]!)));
        const x = inputBatch(pixels, config.size, options.augment === false ? undefined : rng);
        const y = countsTensor(set, idx);
        const loss = await trainStep(model, optimizer, x, y, (t, p) => meanLoss(t as tf.Tensor2D, p, q), { microBatch: options.microBatch });
        tf.dispose([x, y]);
        sum += loss;
        options.onStep?.(epoch, s + 1, steps, loss);
      }
      const valLoss = await evaluateLoss(model, loader, set, split.val, config, q, batchSize);
      const best = valLoss < state.bestValLoss;
      state = { epoch, bestValLoss: best ? valLoss : state.bestValLoss, badEpochs: best ? 0 : state.badEpochs + 1 };
      if (best) await model.save(fileSystem(path.join(out, 'model')));
      await saveCheckpoint(checkpointDir, model, optimizer, state);
      const record: EpochRecord = { epoch, train_loss: sum / steps, val_loss: valLoss, seconds: (Date.now() - started) / 1000, best, finished: new Date().toISOString() };
      fs.appendFileSync(logFile, JSON.stringify(record) + '\n');
      records.push(record);
      log(`epoch ${epoch}/${epochs}: train loss ${record.train_loss.toFixed(4)}, validation loss ${valLoss.toFixed(4)}${best ? ' (best)' : ''}, ${record.seconds.toFixed(0)} s`);
    }
  } finally {
    q.dispose();
  }
  return records;
}

async function loadOptimizerAfterWarmup(model: tf.LayersModel, optimizer: tf.Optimizer, dir: string): Promise<void> {
  // A zero-learning-rate step would still move Adam's moments; instead create the slots by applying
  // zero gradients, then replace them with the saved state.
  const zeros: tf.NamedTensorMap = {};
  for (const w of model.trainableWeights) zeros[(w.read() as tf.Variable).name] = tf.zerosLike(w.read());
  optimizer.applyGradients(zeros);
  tf.dispose(Object.values(zeros));
  await loadOptimizer(optimizer, path.join(dir, 'optimizer.json'));
}

function countsTensor(set: TrainingSet, idx: number[]): tf.Tensor2D {
  const A = set.space.size;
  const data = new Float32Array(idx.length * A);
  idx.forEach((i, r) => data.set(set.counts.subarray(i * A, (i + 1) * A), r * A));
  return tf.tensor2d(data, [idx.length, A]);
}

/** Mean loss over a split, without augmentation. */
export async function evaluateLoss(
  model: tf.LayersModel,
  loader: ImageLoader,
  set: TrainingSet,
  indices: number[],
  config: GalaxyModelConfig,
  q: tf.Tensor2D,
  batchSize: number,
): Promise<number> {
  let total = 0;
  for (let s = 0; s < indices.length; s += batchSize) {
    const idx = indices.slice(s, s + batchSize);
    const pixels = await Promise.all(idx.map((i) => loader.get(set.files[i]!)));
    const x = inputBatch(pixels, config.size);
    const y = countsTensor(set, idx);
    const loss = tf.tidy(() => tf.sum(dirichletMultinomialNLL(y, toConcentrations(model.apply(x, { training: false }) as tf.Tensor), q)));
    total += (await loss.data())[0]!;
    tf.dispose([x, y, loss]);
  }
  return indices.length ? total / indices.length : NaN;
}
