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
 *
 * A new run refuses a folder that already holds files unless `overwrite` (then the old run's files
 * are removed before anything of the new one is written, so a folder never mixes two runs);
 * model/ and checkpoint/ are swapped in whole. config.json records every setting that changes the
 * split or the model (its `fingerprint`), and `resume` refuses a run that differs in any of them.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { SkippedImage } from '../data/batches';
import { writeTextAtomic } from '../data/embeddings';
import { ImageLoader, Pixels } from '../data/images';
import { Rng, seededRng, shuffle } from '../data/augment';
import { decodeSize, inputBatch } from '../data/preprocess';
import { dirichletMultinomialNLL } from '../models/dirichlet';
import { AnswerSpace, buildGalaxyModel, GalaxyModelConfig, toConcentrations } from '../models/galaxy-model';
import { fileSystem, loadOptimizer, saveOptimizer } from '../models/io';
import { adam } from './optimizer';
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
  /** Start afresh in a folder that holds an earlier run (its files are removed first). Default false. */
  overwrite?: boolean;
  /** Leave out galaxies whose image cannot be read, reporting each to `onSkip`. Default false. */
  skipUnreadable?: boolean;
  onSkip?: (skipped: SkippedImage) => void;
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

/** Writes a folder through `write(tmp)` and swaps it in whole; a kill between the two renames leaves `.old`, found on resume. */
async function writeFolder(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await write(tmp);
  if (fs.existsSync(dir)) fs.renameSync(dir, `${dir}.old`);
  fs.renameSync(tmp, dir);
  fs.rmSync(`${dir}.old`, { recursive: true, force: true });
}

async function saveCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<void> {
  await writeFolder(dir, async (tmp) => {
    await model.save(fileSystem(tmp));
    await saveOptimizer(optimizer, path.join(tmp, 'optimizer.json'));
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state));
  });
}

/**
 * Every setting that changes the split or the model: the model config, the datasets (ids,
 * schemas, vote columns, and a hash of the galaxies in order), the seed, the split fractions, and
 * the optimisation (batch size, learning rate, augmentation, steps per epoch). Epochs and patience
 * only say when to stop, so a resumed run may change them.
 */
export interface TrainFingerprint {
  config: GalaxyModelConfig;
  datasets: { id: string; schema: string; votes: unknown; galaxies: number }[];
  galaxies: string;
  seed: number;
  split: { val: number; test: number };
  batchSize: number;
  learningRate: number;
  augment: boolean;
  maxStepsPerEpoch: number | null;
}

function trainFingerprint(options: TrainOptions, config: GalaxyModelConfig, set: TrainingSet): TrainFingerprint {
  const galaxies = crypto.createHash('sha256');
  set.ids.forEach((id, i) => galaxies.update(`${id}\t${set.files[i]}\n`));
  return {
    config,
    datasets: options.datasets.map((d) => ({ id: d.id, schema: d.schema, votes: d.method, galaxies: d.catalog.length })),
    galaxies: galaxies.digest('hex'),
    seed: options.seed ?? TRAIN_DEFAULTS.seed,
    split: options.split ?? { val: 0.1, test: 0.1 },
    batchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
    learningRate: options.learningRate ?? TRAIN_DEFAULTS.learningRate,
    augment: options.augment ?? true,
    maxStepsPerEpoch: options.maxStepsPerEpoch ?? null,
  };
}

/** Refuses to resume `out` when its saved fingerprint differs from this run's, naming what changed. */
function checkResumable(out: string, now: TrainFingerprint): void {
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { fingerprint?: TrainFingerprint };
  const afresh = 'to start afresh, run without --resume and with --overwrite';
  if (!saved.fingerprint) throw new Error(`galmorph: cannot resume ${out}: its config.json has no record of the settings it was trained with; ${afresh}`);
  const keys = Object.keys(now) as (keyof TrainFingerprint)[];
  const changed = keys.filter((k) => JSON.stringify(saved.fingerprint![k] ?? null) !== JSON.stringify(now[k]));
  if (changed.length === 0) return;
  const pick = (f: TrainFingerprint) => JSON.stringify(Object.fromEntries(changed.map((k) => [k, f[k] ?? null])));
  throw new Error(`galmorph: cannot resume ${out}: it was trained with ${pick(saved.fingerprint)}, this run asks for ${pick(now)} (changed: ${changed.join(', ')}); ${afresh}`);
}

/** A new run's folder: refused when it holds files, unless `overwrite` (they are removed). */
function prepareFreshFolder(out: string, overwrite: boolean): void {
  const present = fs.existsSync(out) ? fs.readdirSync(out) : [];
  if (present.length > 0 && !overwrite) {
    throw new Error(
      `galmorph: ${out} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', ...' : ''}); ` +
        'give --resume to continue the run in it, --overwrite to replace it, or another --out',
    );
  }
  for (const f of present) fs.rmSync(path.join(out, f), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
}

/** Writes config.json (and the model's answers) so predict/embed can rebuild the model. */
function writeConfig(out: string, config: GalaxyModelConfig, space: AnswerSpace, set: TrainingSet, options: TrainOptions, backend: string, fingerprint: TrainFingerprint): void {
  const info = {
    fingerprint,
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
  writeTextAtomic(path.join(out, 'config.json'), JSON.stringify(info, null, 2) + '\n');
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
  const checkpointDir = path.join(out, 'checkpoint');
  const logFile = path.join(out, 'train-log.jsonl');
  const fingerprint = trainFingerprint(options, config, set);
  const resuming = options.resume === true && fs.existsSync(path.join(out, 'config.json'));
  // Resuming with other data, another split or another model would silently mix two runs.
  if (resuming) checkResumable(out, fingerprint);
  else prepareFreshFolder(out, options.overwrite ?? false);
  const split = splitIndices(set.ids.length, seed, fingerprint.split);
  if (!resuming) {
    writeTextAtomic(path.join(out, 'split.json'), JSON.stringify({ seed, train: split.train.map((i) => set.ids[i]), val: split.val.map((i) => set.ids[i]), test: split.test.map((i) => set.ids[i]) }));
    writeConfig(out, config, space, set, options, describeBackend(await initBackend()), fingerprint);
  }

  let model: tf.LayersModel;
  const optimizer = adam(options.learningRate ?? TRAIN_DEFAULTS.learningRate);
  let state: TrainState = { epoch: 0, bestValLoss: Infinity, badEpochs: 0 };
  // A kill between the two renames of writeFolder leaves the previous folder as `.old`.
  for (const dir of [checkpointDir, path.join(out, 'model')]) {
    if (resuming && !fs.existsSync(dir) && fs.existsSync(`${dir}.old`)) fs.renameSync(`${dir}.old`, dir);
  }
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
  const decoded = await loader.load(set.files, { skipUnreadable: true });
  if (decoded.skipped.length > 0) {
    const where = describeGalaxies(options.datasets);
    const skipped = decoded.skipped.map((k) => ({ index: k.index, file: k.file, where: where(k.index), reason: k.error.replace(/^galmorph: /, '') }));
    if (!options.skipUnreadable) {
      model.dispose();
      optimizer.dispose();
      const s0 = skipped[0]!;
      throw new Error(`galmorph: ${skipped.length} of ${set.files.length} images cannot be read; the first: ${s0.where}: ${s0.reason} (--skip-unreadable leaves them out and lists them)`);
    }
    skipped.forEach((k) => options.onSkip?.(k));
    const gone = new Set(skipped.map((k) => k.index));
    for (const part of [split.train, split.val, split.test]) part.splice(0, part.length, ...part.filter((i) => !gone.has(i)));
    log(`left out ${gone.size} galaxies whose images cannot be read`);
  }
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
        if (!Number.isFinite(loss)) throw new Error(`galmorph: training diverged: the loss of step ${s + 1} of epoch ${epoch} is ${loss}; check the votes (finite counts) and try a lower --lr`);
        sum += loss;
        options.onStep?.(epoch, s + 1, steps, loss);
      }
      const valLoss = await evaluateLoss(model, loader, set, split.val, config, q, batchSize);
      const best = valLoss < state.bestValLoss;
      state = { epoch, bestValLoss: best ? valLoss : state.bestValLoss, badEpochs: best ? 0 : state.badEpochs + 1 };
      if (best) await writeFolder(path.join(out, 'model'), async (tmp) => void (await model.save(fileSystem(tmp))));
      await saveCheckpoint(checkpointDir, model, optimizer, state);
      const record: EpochRecord = { epoch, train_loss: sum / steps, val_loss: valLoss, seconds: (Date.now() - started) / 1000, best, finished: new Date().toISOString() };
      fs.appendFileSync(logFile, JSON.stringify(record) + '\n');
      records.push(record);
      log(`epoch ${epoch}/${epochs}: train loss ${record.train_loss.toFixed(4)}, validation loss ${valLoss.toFixed(4)}${best ? ' (best)' : ''}, ${record.seconds.toFixed(0)} s`);
    }
  } finally {
    // Everything is on disk: free the weights and Adam's slots (a library caller may train again).
    q.dispose();
    model.dispose();
    optimizer.dispose();
  }
  if (!fs.existsSync(path.join(out, 'model', 'model.json'))) {
    throw new Error(`galmorph: training wrote no model to ${out}: no epoch gave a finite validation loss (${records.map((r) => r.val_loss).join(', ') || 'no epochs ran'})`);
  }
  return records;
}

/** Names galaxy `index` of the assembled datasets by its catalogue file, row and id. */
function describeGalaxies(datasets: VoteDataset[]): (index: number) => string {
  return (index) => {
    let i = index;
    for (const d of datasets) {
      if (i < d.catalog.length) return d.catalog.describeRow(d.catalog.rows[i]!);
      i -= d.catalog.length;
    }
    return `galaxy ${index}`;
  };
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
