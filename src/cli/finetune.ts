/**
 * `galmorph finetune`: a new head (and optionally the top encoder blocks) trained on a labelled
 * catalogue, from galmorph's pretrained model, ImageNet weights, or random initialisation.
 * Thin over src/finetune/run.ts.
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { describeBackend, initBackend } from '../backend/select';
import { readCatalog } from '../data/catalog';
import { openDatasetCatalog } from '../data/manifests';
import { HEAD_KINDS, HeadKind } from '../finetune/head';
import { FINETUNE_TASKS, FinetuneTask } from '../finetune/labels';
import { finetuneCatalog } from '../finetune/run';
import { START_IDS } from '../finetune/starts';
import { VoteColumns } from '../schemas/votes';
import { fromCatalog, loadVoteDataset } from '../training/vote-data';
import { addVoteOptions } from './options';

interface FinetuneCliOptions {
  model: string;
  catalog?: string;
  dataset?: string;
  idCol: string;
  imageCol: string;
  labelCol?: string;
  classes?: string;
  task: string;
  schema?: string;
  counts?: string;
  fractions?: string;
  total?: string;
  classCol?: string;
  head: string;
  unfreezeBlocks: string;
  lr?: string;
  encoderLr?: string;
  l2: string;
  epochs?: string;
  batch: string;
  patience?: string;
  valFraction: string;
  testFraction: string;
  balance: boolean;
  augment: boolean;
  seed: string;
  featureCache?: string;
  out: string;
}

function num(name: string, v: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`galmorph finetune: ${name} must be ${what}, got '${v}'`);
  return n;
}
const positiveInt = (name: string, v: string) => num(name, v, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
const fraction = (name: string, v: string) => num(name, v, (n) => n >= 0 && n < 1, 'in [0, 1)');

export function finetuneCommand(): Command {
  const cmd = new Command('finetune')
    .description('fine-tune a new head (and optionally the top encoder blocks) on labelled galaxies; `galmorph predict --model <out>` then applies it')
    .option('--model <start>', `starting point: ${START_IDS.join(', ')}, or a galmorph model folder`, 'galmorph')
    .option('--catalog <file>', 'labelled catalogue (CSV, Parquet, Arrow)')
    .option('--dataset <id>', 'or a dataset from data-manifests, e.g. decals-rings-470')
    .option('--id-col <col>', 'id column of --catalog', 'id')
    .option('--image-col <col>', 'image column of --catalog', 'file')
    .option('--label-col <col>', 'label column (classification, regression), e.g. ring')
    .option('--classes <list>', 'comma-separated class order (classification; with two, the second is the positive class)')
    .option('--task <task>', `${FINETUNE_TASKS.join(', ')} (tree: Galaxy Zoo votes with the options below)`, 'classification');
  return addVoteOptions(cmd)
    .option('--head <kind>', `${HEAD_KINDS.join(', ')} (mlp: dense 64, dropout, dense 64, dropout, output)`, 'linear')
    .option('--unfreeze-blocks <n>', "encoder blocks trained from the top: 0 (frozen encoder, features computed once), N, or 'all'", '0')
    .option('--lr <rate>', 'Adam learning rate of the head (default 0.001; 0.01 for --task tree)')
    .option('--encoder-lr <rate>', 'learning rate of unfrozen blocks (default: lr/10; lr for scratch starts)')
    .option('--l2 <weight>', "L2 penalty on the head's kernels", '0.001')
    .option('--epochs <n>', 'maximum epochs (default 100 frozen, 30 unfreezing)')
    .option('--batch <n>', 'batch size', '32')
    .option('--patience <n>', 'early stopping patience in epochs (default 10 frozen, 5 unfreezing)')
    .option('--val-fraction <f>', 'fraction of each class held out for early stopping (used when at least 3 per class)', '0.2')
    .option('--test-fraction <f>', 'fraction held out to measure the fine-tuned model (stratified)', '0')
    .option('--no-balance', 'no class-balancing loss weights')
    .option('--no-augment', 'no rotations, flips or crops when unfreezing')
    .option('--seed <n>', 'seed of the splits, head initialisation, batch order and augmentations', '0')
    .option('--feature-cache <file>', 'Parquet file caching the frozen features of the catalogue (reused when it matches)')
    .requiredOption('--out <dir>', 'output folder for the fine-tuned model')
    .action(async (opts: FinetuneCliOptions) => {
      console.error(`galmorph finetune — ${describeBackend(await initBackend())}`);
      if (!opts.catalog === !opts.dataset) throw new Error('galmorph finetune: give --catalog <file> or --dataset <id> (one of them)');
      const catalog = opts.catalog ? readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol }) : openDatasetCatalog(opts.dataset!);
      const task = opts.task as FinetuneTask;
      if (!FINETUNE_TASKS.includes(task)) throw new Error(`galmorph finetune: unknown --task '${opts.task}'. Valid choices: ${FINETUNE_TASKS.join(', ')}`);
      if (!HEAD_KINDS.includes(opts.head as HeadKind)) throw new Error(`galmorph finetune: unknown --head '${opts.head}'. Valid choices: ${HEAD_KINDS.join(', ')}`);
      let votes;
      if (task === 'tree') {
        if (opts.schema) {
          const columns: VoteColumns = { counts: opts.counts, fractions: opts.fractions, total: opts.total, classColumn: opts.classCol };
          votes = fromCatalog(catalog, opts.schema, columns);
        } else if (opts.dataset) {
          votes = loadVoteDataset(opts.dataset);
        } else throw new Error('galmorph finetune: --task tree needs --schema and vote columns (or a --dataset whose manifest declares them)');
      } else if (!opts.labelCol) {
        throw new Error(`galmorph finetune: --task ${task} needs --label-col <column>`);
      }
      const unfreeze = opts.unfreezeBlocks === 'all' ? 'all' : num('--unfreeze-blocks', opts.unfreezeBlocks, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer or 'all'");
      const bar = new SingleBar({ format: '{what} [{bar}] {value}/{total} {note}', stream: process.stderr, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10_000 }, Presets.shades_classic);
      let barStarted = false;
      const progress = (what: string, value: number, total: number, note = '') => {
        if (!barStarted) {
          bar.start(total, value, { what, note });
          barStarted = true;
        }
        bar.setTotal(total);
        bar.update(value, { what, note });
      };
      const epochs = opts.epochs ? positiveInt('--epochs', opts.epochs) : undefined;
      let result;
      try {
        result = await finetuneCatalog({
          start: opts.model,
          catalog,
          task,
          labelCol: opts.labelCol,
          classes: opts.classes?.split(',').map((c) => c.trim()),
          votes: votes ?? undefined,
          head: opts.head as HeadKind,
          unfreezeBlocks: unfreeze,
          learningRate: opts.lr ? num('--lr', opts.lr, (n) => n > 0, 'positive') : undefined,
          encoderLearningRate: opts.encoderLr ? num('--encoder-lr', opts.encoderLr, (n) => n > 0, 'positive') : undefined,
          l2: num('--l2', opts.l2, (n) => n >= 0, 'non-negative'),
          epochs,
          batchSize: positiveInt('--batch', opts.batch),
          patience: opts.patience ? positiveInt('--patience', opts.patience) : undefined,
          validationFraction: fraction('--val-fraction', opts.valFraction),
          testFraction: fraction('--test-fraction', opts.testFraction),
          balance: opts.balance,
          augment: opts.augment,
          seed: num('--seed', opts.seed, Number.isInteger, 'an integer'),
          featureCache: opts.featureCache,
          out: opts.out,
          onFeatures: (done, total) => progress('features', done, total, 'galaxies'),
          onEpoch: (e) =>
            progress('training', e.epoch, epochs ?? (unfreeze === 0 ? 100 : 30), `epochs; loss ${e.trainLoss.toFixed(4)}${e.valLoss !== undefined ? `, validation ${e.valLoss.toFixed(4)}` : ''}${e.best ? ' (best)' : ''}`),
        });
      } finally {
        bar.stop();
      }
      const t = result.model.config.training;
      console.error(`trained ${t.epochsRun} epochs (best ${t.bestEpoch}, early stopping on ${t.monitor}) on ${t.trainExamples} galaxies (+${t.validationExamples} validation), ${t.seconds.toFixed(1)} s`);
      if (result.testIds.length) {
        console.log(`held-out test (${result.testIds.length} galaxies): ${Object.entries(result.metrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);
      }
      console.log(`fine-tuned model written to ${path.resolve(opts.out)} (galmorph predict --model ${opts.out} --catalog ...)`);
      result.model.dispose();
    });
}
