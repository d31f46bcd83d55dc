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
import { DEFAULT_CROP_SCALE, RotationMode, Rng, seededRng, shuffle } from '../data/augment';
import { decodeSize, inputBatch } from '../data/preprocess';
import { dirichletMultinomialNLL } from '../models/dirichlet';
import { AnswerSpace, buildGalaxyModel, concentrationFloorOf, GalaxyModelConfig, toConcentrations, ZOOBOT_CONCENTRATION_FLOOR } from '../models/galaxy-model';
import { encoderSpec } from '../models/architectures';
import { withoutMonteCarloDropout } from '../models/layers/mc-dropout';
import { fileSystem, loadOptimizer, saveOptimizer } from '../models/io';
import { adam } from './optimizer';
import { LossFn, trainStep } from './step';
import { describeBackend, initBackend } from '../backend/select';
import type { VoteDataset } from '../schemas/vote-datasets';
import { assemble, splitIndices, TrainingSet } from './vote-data';
import { describeExclusion, Exclusion, ExclusionPreset, ExclusionSpec, resolveExclusion } from './exclusion';
import { abortSignal, ProgressListener, track } from '../progress';

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
  /**
   * Votes never trained on, a preset (`'honest'`: GZ2 odd and odd-feature questions, GZ1 mergers) or
   * rules of your own (src/training/exclusion.ts). Galaxies left with no votes are dropped.
   */
  exclude?: ExclusionSpec | ExclusionPreset;
  /**
   * Loss weight of each dataset's galaxies, by dataset id (default 1 each): each galaxy's
   * Dirichlet-multinomial term is multiplied by its dataset's weight and a batch's loss is the
   * weighted mean, Σ w·loss / Σ w (the validation loss too). E.g. `{ 'gz2-kaggle-5000': 0.3 }`, so
   * thousands of galaxies with only the coarse questions do not dominate the loss.
   */
  datasetWeights?: Record<string, number>;
  /**
   * The learning rate over the run: 'constant' (default), or 'cosine': a linear warm-up over the
   * first 3% of the run's steps, then half a cosine from the learning rate down to zero at the last
   * step of `epochs` (early stopping may end the run before).
   */
  schedule?: LearningRateSchedule;
  /** Zoobot's rotations, flips and random resized crops. Default true. */
  augment?: boolean;
  /**
   * Area fraction range of the random resized crop (of the image decoded at `decodeSize(size)`).
   * Default [0.7, 0.8], Zoobot's; [0.75, 0.75] keeps the evaluation view's scale and only moves
   * the crop. Prediction always sees the central 75%.
   */
  cropScale?: [number, number];
  /** Rotations of the augmentation: 'any' angle (default, Zoobot's) or 'quarter-turns'. */
  rotation?: RotationMode;
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
  /**
   * Checked between steps: an aborted signal stops training with an InterruptedError (the last
   * finished epoch's checkpoint resumes with `resume`). Default: the ambient signal (the notebook
   * kernel's Interrupt, src/progress.ts).
   */
  signal?: AbortSignal;
  /** Progress events, one bar per epoch (steps, the last loss). Default: the ambient listener. */
  progress?: ProgressListener;
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

/**
 * The training loss of a batch: the mean over its galaxies of the Dirichlet-multinomial negative
 * log-likelihood of their votes, each times its weight when the step has weights (batchWeights).
 */
export function galaxyLoss(q: tf.Tensor2D, floor = ZOOBOT_CONCENTRATION_FLOOR): LossFn {
  return (counts, out, weights) => {
    const nll = dirichletMultinomialNLL(counts as tf.Tensor2D, toConcentrations(out, floor), q);
    return tf.mean(weights ? tf.mul(nll, weights) : nll) as tf.Scalar;
  };
}

/**
 * Each dataset's loss weight in `datasets` order, checked (known ids, finite, >= 0, not all 0);
 * null when every weight is 1 (the default, and what runs from before weights existed resume as).
 */
function resolveDatasetWeights(datasets: VoteDataset[], given: Record<string, number> | undefined): number[] | null {
  if (!given) return null;
  const ids = datasets.map((d) => d.id);
  for (const [id, w] of Object.entries(given)) {
    if (!ids.includes(id)) throw new Error(`galmorph: a loss weight is given for dataset '${id}', which this run does not train on. Datasets: ${ids.join(', ')}`);
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`galmorph: the loss weight of dataset '${id}' must be a finite number >= 0, got ${w}`);
  }
  const weights = ids.map((id) => given[id] ?? 1);
  if (weights.every((w) => w === 0)) throw new Error(`galmorph: every dataset has loss weight 0: there is nothing to learn from`);
  return weights.every((w) => w === 1) ? null : weights;
}

/**
 * A batch's per-galaxy loss weights (`weights` by dataset, see resolveDatasetWeights), scaled to mean
 * 1 over the batch so that galaxyLoss gives the weighted mean Σ w·loss / Σ w. Undefined without
 * weights; null when the batch's weights are all 0 (it has nothing to learn from).
 */
export function batchWeights(set: TrainingSet, idx: number[], weights: number[] | null): Float32Array | undefined | null {
  if (!weights) return undefined;
  const w = idx.map((i) => weights[set.source[i]!]!);
  const sum = w.reduce((a, b) => a + b, 0);
  return sum > 0 ? Float32Array.from(w, (x) => (x * idx.length) / sum) : null;
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
 * schemas, vote columns, and a hash of the galaxies in order), the votes left out, the seed, the
 * split fractions, and the optimisation (batch size, learning rate, augmentation, steps per epoch,
 * dataset loss weights).
 * Epochs and patience only say when to stop, so a resumed run may change them.
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
  /** The crop's area range; null: Zoobot's [0.7, 0.8] (also what earlier runs resume as). */
  cropScale: [number, number] | null;
  /** 'quarter-turns'; absent for rotations by any angle (also what earlier runs resume as). */
  rotation?: 'quarter-turns';
  maxStepsPerEpoch: number | null;
  /** The votes left out; null: none (also what runs from before exclusions existed resume as). */
  exclude: Exclusion | null;
  /** Loss weight by dataset id; null: 1 each. */
  datasetWeights: Record<string, number> | null;
  /** 'cosine', or null for a constant learning rate (also what earlier runs resume as). */
  schedule: LearningRateSchedule | null;
}

function trainFingerprint(options: TrainOptions, config: GalaxyModelConfig, set: TrainingSet, weights: number[] | null): TrainFingerprint {
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
    cropScale: options.cropScale ? cropScaleOf(options.cropScale) : null,
    ...(options.rotation === 'quarter-turns' ? { rotation: 'quarter-turns' as const } : {}),
    maxStepsPerEpoch: options.maxStepsPerEpoch ?? null,
    exclude: set.exclusion && { preset: set.exclusion.preset, spec: set.exclusion.spec },
    datasetWeights: weights && Object.fromEntries(options.datasets.map((d, i) => [d.id, weights[i]!])),
    schedule: options.schedule && options.schedule !== 'constant' ? options.schedule : null,
  };
}

/** A crop area range, checked: 0 < lo <= hi <= 1. */
function cropScaleOf([lo, hi]: [number, number]): [number, number] {
  if (!(lo > 0 && lo <= hi && hi <= 1)) throw new Error(`galmorph: cropScale must be two area fractions 0 < lo <= hi <= 1, got [${lo}, ${hi}]`);
  return [lo, hi];
}

export const LEARNING_RATE_SCHEDULES = ['constant', 'cosine'] as const;
export type LearningRateSchedule = (typeof LEARNING_RATE_SCHEDULES)[number];

/** The learning rate at step `t` (0-based) of `total` steps under `schedule` (see TrainOptions.schedule). */
export function learningRateAt(schedule: LearningRateSchedule, base: number, t: number, total: number): number {
  if (schedule === 'constant') return base;
  const warmup = Math.max(1, Math.round(0.03 * total));
  if (t < warmup) return (base * (t + 1)) / warmup;
  const progress = Math.min(1, (t - warmup) / Math.max(1, total - warmup));
  return 0.5 * base * (1 + Math.cos(Math.PI * progress));
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
    exclusion: set.exclusion,
    datasetWeights: fingerprint.datasetWeights,
    training: {
      epochs: options.epochs ?? TRAIN_DEFAULTS.epochs,
      batchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
      learningRate: options.learningRate ?? TRAIN_DEFAULTS.learningRate,
      schedule: options.schedule ?? 'constant',
      patience: options.patience ?? TRAIN_DEFAULTS.patience,
      seed: options.seed ?? TRAIN_DEFAULTS.seed,
      augment: options.augment ?? true,
      cropScale: options.cropScale ?? DEFAULT_CROP_SCALE,
      rotation: options.rotation ?? 'any',
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
  const set = assemble(options.datasets, space, resolveExclusion(options.exclude));
  const out = path.resolve(options.out);
  const checkpointDir = path.join(out, 'checkpoint');
  const logFile = path.join(out, 'train-log.jsonl');
  const weights = resolveDatasetWeights(options.datasets, options.datasetWeights);
  const fingerprint = trainFingerprint(options, config, set, weights);
  const resuming = options.resume === true && fs.existsSync(path.join(out, 'config.json'));
  // Resuming with other data, another split or another model would silently mix two runs.
  if (resuming) checkResumable(out, fingerprint);
  else prepareFreshFolder(out, options.overwrite ?? false);
  if (set.exclusion) {
    const left = set.exclusion.counts.filter((c) => c.votes > 0).map((c) => `${c.dataset} ${c.votes} votes of ${c.galaxies} galaxies (${c.dropped} dropped)`);
    log(`excluded ${describeExclusion(set.exclusion)}: ${left.join(', ') || 'no votes in these datasets'}`);
  }
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
    await encoderSpec(config.arch).initialise?.(model);
    fs.writeFileSync(logFile, '');
  }

  const loader = new ImageLoader({ size: decodeSize(config.size), greyscale: config.channels === 1 });
  log(`decoding ${set.files.length} images at ${decodeSize(config.size)} px (cached for later epochs)`);
  const decoded = await loader.load(set.files, { skipUnreadable: true });
  if (decoded.skipped.length > 0) {
    const where = describeGalaxies(options.datasets, set);
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
  const lossFn = galaxyLoss(q, concentrationFloorOf(config));
  const rng = seededRng(seed * 7919 + state.epoch + 1);
  const records: EpochRecord[] = [];
  const signal = abortSignal(options.signal);
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
      const baseRate = options.learningRate ?? TRAIN_DEFAULTS.learningRate;
      const cropScale = options.cropScale ?? DEFAULT_CROP_SCALE;
      let sum = 0;
      let ran = 0;
      const tracker = track(`training epoch ${epoch}/${epochs}`, 'steps', { ...(options.progress ? { progress: options.progress } : {}), ...(signal ? { signal } : {}) });
      tracker.report(0, steps);
      for (let s = 0; s < steps; s++) {
        tracker.check(s, steps);
        const idx = order.slice(s * batchSize, (s + 1) * batchSize);
        const w = batchWeights(set, idx, weights);
        if (w === null) continue; // only weight-0 galaxies: no loss, and no step (Adam would still move)
        const pixels = await Promise.all(idx.map((i) => loader.get(set.files[i]!)));
        const x = inputBatch(pixels, config.size, options.augment === false ? undefined : rng, { cropScale, rotation: options.rotation ?? 'any' });
        const y = countsTensor(set, idx);
        const wt = w && tf.tensor1d(w);
        optimizer.setLearningRate(learningRateAt(options.schedule ?? 'constant', baseRate, (epoch - 1) * steps + s, epochs * steps));
        const loss = await trainStep(model, optimizer, x, y, lossFn, { microBatch: options.microBatch, weights: wt });
        tf.dispose([x, y, ...(wt ? [wt] : [])]);
        if (!Number.isFinite(loss)) throw new Error(`galmorph: training diverged: the loss of step ${s + 1} of epoch ${epoch} is ${loss}; check the votes (finite counts) and try a lower --lr`);
        sum += loss;
        ran++;
        options.onStep?.(epoch, s + 1, steps, loss);
        tracker.report(s + 1, steps, `loss ${loss.toFixed(3)}`);
      }
      const valLoss = await evaluateLoss(model, loader, set, split.val, config, q, batchSize, weights);
      const best = valLoss < state.bestValLoss;
      state = { epoch, bestValLoss: best ? valLoss : state.bestValLoss, badEpochs: best ? 0 : state.badEpochs + 1 };
      if (best) await writeFolder(path.join(out, 'model'), async (tmp) => void (await model.save(fileSystem(tmp))));
      await saveCheckpoint(checkpointDir, model, optimizer, state);
      const record: EpochRecord = { epoch, train_loss: sum / ran, val_loss: valLoss, seconds: (Date.now() - started) / 1000, best, finished: new Date().toISOString() };
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

/** Names galaxy `index` of the training set by its catalogue file, row and id. */
function describeGalaxies(datasets: VoteDataset[], set: TrainingSet): (index: number) => string {
  return (index) => {
    const d = datasets[set.source[index]!];
    return d ? d.catalog.describeRow(d.catalog.rows[set.rows[index]!]!) : `galaxy ${index}`;
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

/**
 * Mean loss over a split, without augmentation; with `datasetWeights` (one per dataset of the set),
 * the weighted mean Σ w·loss / Σ w, as training weighs it.
 */
export async function evaluateLoss(
  model: tf.LayersModel,
  loader: ImageLoader,
  set: TrainingSet,
  indices: number[],
  config: GalaxyModelConfig,
  q: tf.Tensor2D,
  batchSize: number,
  datasetWeights: number[] | null = null,
): Promise<number> {
  let total = 0;
  let weight = 0;
  // Deterministic: Monte Carlo dropout off (see withoutMonteCarloDropout).
  await withoutMonteCarloDropout(async () => {
    for (let s = 0; s < indices.length; s += batchSize) {
      const idx = indices.slice(s, s + batchSize);
      const pixels = await Promise.all(idx.map((i) => loader.get(set.files[i]!)));
      const x = inputBatch(pixels, config.size);
      const y = countsTensor(set, idx);
      const nll = tf.tidy(() => dirichletMultinomialNLL(y, toConcentrations(model.apply(x, { training: false }) as tf.Tensor, concentrationFloorOf(config)), q));
      const losses = await nll.data();
      tf.dispose([x, y, nll]);
      idx.forEach((i, r) => {
        const w = datasetWeights ? datasetWeights[set.source[i]!]! : 1;
        if (w === 0) return; // its loss counts for nothing, even if it is not finite
        total += w * losses[r]!;
        weight += w;
      });
    }
  });
  return weight > 0 ? total / weight : NaN;
}
