/**
 * `galmorph train` and `galmorph predict`: thin over src/training and src/models.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { addCatalogSourceOptions, addVoteOptions, AREA_RANGE, fraction, NAMED_WEIGHT, NON_NEGATIVE_INTEGER, oneOf, POSITIVE_INTEGER, POSITIVE_NUMBER, readCatalogOption, repeatable, validated, voteColumnsOption, VoteCliOptions } from './options';
import { cliBars } from './progress';
import Papa from 'papaparse';
import { describeBackend, initBackend } from '../backend/select';
import { readCatalog } from '../data/catalog';
import { ROTATION_MODES, RotationMode } from '../data/augment';
import { DEFAULT_CONFIG } from '../models/galaxy-model';
import { ENCODER_IDS, loadEncoder } from '../encoders/registry';
import { ENCODERS } from '../models/architectures';
import { defaultEncoderDir, defaultModelDir } from '../models/load';
import { disposeModel, loadModel, predictCatalog } from '../models/predict';
import { readTrainLog, writeModelCard } from '../training/model-card';
import { closeSharedRenderer, exportFigure, findChromium } from '../plots/export';
import { lossFigure } from '../plots/loss';
import { embedCatalog } from '../representations/embed';
import { formatExplainedVariance, pcaFileFor, RepresentationPca, writePca } from '../representations/pca';
import { EpochRecord, LEARNING_RATE_SCHEDULES, LearningRateSchedule, TRAIN_DEFAULTS, trainGalaxyModel } from '../training/train-galaxy';
import { EXCLUSION_PRESET_NAMES, ExclusionPreset } from '../training/exclusion';
import { fromCatalog, loadVoteDataset, VoteDataset } from '../schemas/vote-datasets';
import { writeTextAtomic } from '../data/embeddings';
import { addSkipUnreadableOption, skippedListFile, skipReporter } from './skipped';
import { addQueueOptions, embedWithQueue } from './scale';

interface TrainCliOptions extends VoteCliOptions {
  dataset?: string[];
  catalog?: string;
  schema?: string;
  idCol?: string;
  imageCol?: string;
  arch: string;
  size: number;
  greyscale?: boolean;
  lrSchedule: LearningRateSchedule;
  dropout: number;
  concentrationFloor?: number;
  epochs: number;
  batch: number;
  lr: number;
  patience: number;
  seed: number;
  microBatch?: number;
  maxSteps?: number;
  augment: boolean;
  cropScale?: [number, number];
  rotation: RotationMode;
  resume?: boolean;
  overwrite?: boolean;
  skipUnreadable?: boolean;
  exclude?: ExclusionPreset;
  datasetWeight?: [string, number][];
  out: string;
}

/** --dataset-weight ID=W options as TrainOptions.datasetWeights (an id given twice is an error). */
function datasetWeightsFrom(pairs: [string, number][] | undefined): Record<string, number> | undefined {
  if (!pairs) return undefined;
  const weights: Record<string, number> = {};
  for (const [id, w] of pairs) {
    if (Object.hasOwn(weights, id)) throw new Error(`galmorph train: --dataset-weight gives dataset '${id}' twice`);
    weights[id] = w;
  }
  return weights;
}

function datasetsFrom(opts: TrainCliOptions): VoteDataset[] {
  const sets = (opts.dataset ?? []).map((id) => loadVoteDataset(id));
  if (opts.catalog) {
    if (!opts.schema) throw new Error('galmorph train: --catalog needs --schema (gz2, gz-decals-dr5 or gz1)');
    sets.push(fromCatalog(readCatalogOption(opts)!, opts.schema, voteColumnsOption(opts)));
  }
  if (sets.length === 0) throw new Error('galmorph train: give --dataset <id> (repeatable; see `galmorph data list`) or --catalog <file> --schema <name>');
  return sets;
}

/** loss.png / loss.svg in a model folder from its whole train-log.jsonl (resumed runs included). */
async function writeLossPlot(out: string, log: (line: string) => void): Promise<void> {
  const records = readTrainLog(out);
  if (records.length === 0) return;
  if (!findChromium()) {
    log('no Chromium: skipping the loss plot (train-log.jsonl has the numbers)');
    return;
  }
  const files = await exportFigure(lossFigure(records, `Training ${path.basename(out)}`), path.join(out, 'loss'), { width: 700, height: 420 });
  await closeSharedRenderer();
  log(`loss plot: ${files.join(', ')}`);
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train the galaxy model on volunteer votes (Dirichlet-multinomial), with checkpoints and --resume');
  addCatalogSourceOptions(cmd, { catalog: 'your own catalogue (CSV, Parquet, Arrow) with vote columns', dataset: 'a dataset with votes from data-manifests', repeatable: true });
  return addSkipUnreadableOption(addVoteOptions(cmd))
    .option('--arch <name>', `encoder: ${Object.keys(ENCODERS).join(', ')}`, DEFAULT_CONFIG.arch)
    .addOption(validated('--size <px>', 'input size', POSITIVE_INTEGER, DEFAULT_CONFIG.size))
    .option('--greyscale', 'one channel instead of RGB')
    .addOption(validated('--dropout <rate>', 'dropout before the head (kept on at prediction)', fraction('[0, 1)'), DEFAULT_CONFIG.dropout))
    .addOption(validated('--epochs <n>', 'maximum epochs', POSITIVE_INTEGER, TRAIN_DEFAULTS.epochs))
    .addOption(validated('--batch <n>', 'batch size', POSITIVE_INTEGER, TRAIN_DEFAULTS.batchSize))
    .addOption(validated('--lr <rate>', 'Adam learning rate', POSITIVE_NUMBER, TRAIN_DEFAULTS.learningRate))
    .addOption(validated('--lr-schedule <name>', "learning rate over the run: 'constant', or 'cosine' (3% warm-up, then down to 0 at the last epoch)", oneOf(LEARNING_RATE_SCHEDULES), 'constant'))
    .addOption(validated('--patience <n>', 'early stopping patience (epochs)', POSITIVE_INTEGER, TRAIN_DEFAULTS.patience))
    .addOption(validated('--seed <n>', 'seed of the split and augmentations', NON_NEGATIVE_INTEGER, TRAIN_DEFAULTS.seed))
    .addOption(validated('--micro-batch <n>', 'examples per forward/backward pass (memory)', POSITIVE_INTEGER))
    .addOption(validated('--max-steps <n>', 'at most this many steps per epoch (quick runs)', POSITIVE_INTEGER))
    .addOption(repeatable('--dataset-weight <id=w>', "multiply the loss of a --dataset's galaxies by w (default 1; the batch loss is the weighted mean), e.g. gz2-kaggle-5000=0.3", NAMED_WEIGHT))
    .addOption(validated('--exclude <preset>', "votes never trained on, so the representation can be evaluated on them: 'honest' (GZ2 odd and odd-feature questions, GZ1 mergers)", oneOf(EXCLUSION_PRESET_NAMES)))
    .addOption(validated('--concentration-floor <a>', "the least Dirichlet concentration of every answer (default 1, Zoobot's; lower lets rare answers be predicted near 0)", POSITIVE_NUMBER))
    .option('--no-augment', 'no rotations, flips or crops')
    .addOption(validated('--crop-scale <lo,hi>', "area fraction range of the random resized crop (default 0.7,0.8, Zoobot's; 0.75,0.75: shifts only, the evaluation view's scale)", AREA_RANGE))
    .addOption(validated('--rotation <mode>', "rotations of the augmentation: 'any' angle (Zoobot's) or 'quarter-turns' (0, 90, 180, 270 degrees)", oneOf(ROTATION_MODES), 'any'))
    .option('--resume', 'continue from <out>/checkpoint (refused when any setting that changes the split or the model differs)')
    .option('--overwrite', 'start afresh in an --out folder that holds an earlier run (its files are removed)')
    .requiredOption('--out <dir>', 'output folder, e.g. models/my-model')
    .action(async (opts: TrainCliOptions) => {
      console.log(`galmorph train — ${describeBackend(await initBackend())}`);
      const datasets = datasetsFrom(opts);
      const bars = cliBars();
      let records: EpochRecord[] = [];
      const skips = skipReporter('train', skippedListFile(opts.out, true));
      try {
        records = await trainGalaxyModel({
          datasets,
          out: opts.out,
          model: { arch: opts.arch, size: opts.size, channels: opts.greyscale ? 1 : 3, dropout: opts.dropout, ...(opts.concentrationFloor !== undefined && opts.concentrationFloor !== 1 ? { concentrationFloor: opts.concentrationFloor } : {}) },
          epochs: opts.epochs,
          batchSize: opts.batch,
          learningRate: opts.lr,
          schedule: opts.lrSchedule,
          patience: opts.patience,
          seed: opts.seed,
          microBatch: opts.microBatch,
          maxStepsPerEpoch: opts.maxSteps,
          exclude: opts.exclude,
          datasetWeights: datasetWeightsFrom(opts.datasetWeight),
          augment: opts.augment,
          ...(opts.cropScale ? { cropScale: opts.cropScale } : {}),
          rotation: opts.rotation,
          resume: opts.resume,
          overwrite: opts.overwrite,
          skipUnreadable: opts.skipUnreadable,
          onSkip: skips.onSkip,
          progress: bars.listener,
          log: bars.log,
        });
      } finally {
        bars.stop();
      }
      skips.write();
      await writeLossPlot(opts.out, (line) => console.error(line));
      console.log(`model written to ${path.resolve(opts.out)} (best epoch in model/, log in train-log.jsonl; ${records.length} epochs this run)`);
    });
}

interface PredictCliOptions {
  model?: string;
  catalog: string;
  idCol: string;
  imageCol: string;
  schema?: string;
  samples: number;
  batch: number;
  skipUnreadable?: boolean;
  out: string;
}

export function predictCommand(): Command {
  return addSkipUnreadableOption(new Command('predict'))
    .description('predicted vote fractions (mean of Monte Carlo dropout samples) and their spread, per galaxy and answer; with a fine-tuned model, its predictions')
    .option('--model <dir>', `a model folder from galmorph train or galmorph finetune (default: ${path.relative(process.cwd(), defaultModelDir()) || defaultModelDir()})`)
    .requiredOption('--catalog <file>', 'catalogue of galaxies (CSV, Parquet, Arrow)')
    .option('--id-col <col>', 'id column', 'id')
    .option('--image-col <col>', 'image column', 'file')
    .option('--schema <name>', "which of the model's schemas to write (default: its first)")
    .addOption(validated('--samples <n>', 'Monte Carlo dropout samples', POSITIVE_INTEGER, 5))
    .addOption(validated('--batch <n>', 'galaxies per batch', POSITIVE_INTEGER, 32))
    .requiredOption('--out <file>', 'CSV to write')
    .action(async (opts: PredictCliOptions) => {
      console.error(`galmorph predict — ${describeBackend(await initBackend())}`);
      const catalog = readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol });
      const model = await loadModel(opts.model);
      const skips = skipReporter('predict', skippedListFile(opts.out));
      const bars = cliBars();
      try {
        const prediction = await predictCatalog(model, catalog, {
          schema: opts.schema,
          samples: opts.samples,
          batchSize: opts.batch,
          skipUnreadable: opts.skipUnreadable,
          onSkip: skips.onSkip,
          progress: bars.listener,
        }).finally(() => bars.stop());
        const rows = prediction.rows();
        fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
        skips.write();
        writeTextAtomic(opts.out, Papa.unparse(rows, { newline: '\n', columns: ['id', ...prediction.columns, ...(prediction.labels ? ['predicted'] : [])] }) + '\n');
        console.error(`wrote ${rows.length} galaxies x ${prediction.columns.length} columns (${prediction.columns.slice(0, 4).join(', ')}${prediction.columns.length > 4 ? ', ...' : ''}) to ${opts.out}`);
      } finally {
        disposeModel(model);
      }
    });
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description("test metrics of a trained model on the GZ2 galaxies of its test split; writes MODEL_CARD.md and metrics.json into the model folder")
    .option('--model <dir>', 'a model folder from galmorph train', defaultModelDir())
    .addOption(validated('--samples <n>', 'Monte Carlo dropout samples', POSITIVE_INTEGER, 5))
    .action(async (opts: { model: string; samples: number }) => {
      const { evaluation } = await writeModelCard(opts.model, opts.samples);
      console.log(`GZ2 test galaxies: ${evaluation.galaxies}; mean MAE ${evaluation.mean_mae.toFixed(4)} (training-mean baseline ${evaluation.mean_baseline_mae.toFixed(4)})`);
      console.log(`wrote ${path.join(opts.model, 'MODEL_CARD.md')} and metrics.json`);
    });
}

export function embedCommand(): Command {
  return addQueueOptions(addSkipUnreadableOption(new Command('embed')))
    .description("the galaxy model's representation of every galaxy of a catalogue (Parquet or Arrow: id, vector); a rerun continues an interrupted one")
    .option('--model <dir|id>', `a model folder from galmorph train, or an encoder id (${ENCODER_IDS.join(', ')})`, defaultEncoderDir())
    .requiredOption('--catalog <file>', 'catalogue of galaxies (CSV, Parquet, Arrow)')
    .option('--id-col <col>', 'id column', 'id')
    .option('--image-col <col>', 'image column', 'file')
    .addOption(validated('--batch <n>', 'galaxies per forward pass', POSITIVE_INTEGER, 64))
    .addOption(validated('--part-size <n>', 'galaxies per resumable part', POSITIVE_INTEGER, 1024))
    .requiredOption('--out <file>', 'output: .parquet, or .arrow for Arrow IPC')
    .addOption(validated('--pca <n>', 'also fit a PCA of n components and write it beside the output (emb.parquet -> emb.pca.json), reusable with galmorph similar --pca-file', POSITIVE_INTEGER))
    .option('--pca-scale', 'with --pca: standardise each dimension first')
    .option('--overwrite', 'discard the parts of an interrupted run made from other inputs (<out>.parts) instead of refusing to resume')
    .action(async (opts: { model: string; catalog: string; idCol: string; imageCol: string; batch: number; partSize: number; out: string; pca?: number; pcaScale?: boolean; overwrite?: boolean; skipUnreadable?: boolean; queue?: string; shardSize?: number; attempts: number }) => {
      const components = opts.pca;
      if (opts.queue === undefined && opts.shardSize !== undefined) throw new Error('galmorph embed: --shard-size goes with --queue (without it, --part-size)');
      console.error(`galmorph embed — ${describeBackend(await initBackend())}`);
      const encoder = await loadEncoder(opts.model);
      const catalog = readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol });
      const skips = skipReporter('embed', skippedListFile(opts.out));
      const bars = cliBars();
      const queue = opts.queue;
      const e = await (queue !== undefined ? embedWithQueue(encoder, catalog, opts.out, { ...opts, queue }, skips.onSkip) : embedCatalog(encoder, catalog, opts.out, {
        batchSize: opts.batch,
        partSize: opts.partSize,
        overwrite: opts.overwrite,
        skipUnreadable: opts.skipUnreadable,
        onSkip: skips.onSkip,
        progress: bars.listener,
        log: bars.log,
      })).finally(() => {
        bars.stop();
        encoder.dispose();
      });
      skips.write();
      console.error(`wrote ${e.ids.length} representations of ${e.dim} dimensions to ${opts.out}`);
      if (components !== undefined) {
        const pca = RepresentationPca.fit(e, { components, scale: opts.pcaScale ?? false });
        const file = pcaFileFor(opts.out);
        writePca(file, pca);
        console.error(`wrote a PCA of ${components} components (fitted on ${e.ids.length} galaxies${opts.pcaScale ? ', standardised' : ''}) to ${file}`);
        console.error(`explained variance: ${formatExplainedVariance(pca)}`);
      }
    });
}
