/**
 * `galmorph finetune`: a new head (and optionally the top encoder blocks) trained on a labelled
 * catalogue, from galmorph's pretrained model, ImageNet weights, or random initialisation.
 * Thin over src/finetune/run.ts.
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { describeBackend, initBackend } from '../backend/select';
import { HEAD_KINDS, HeadKind } from '../models/head';
import { FINETUNE_TASKS, FinetuneTask } from '../finetune/labels';
import { finetuneCatalog } from '../finetune/run';
import { ENCODER_IDS } from '../encoders/registry';
import { VoteColumns } from '../schemas/votes';
import { fromCatalog, loadVoteDataset } from '../schemas/vote-datasets';
import { FINETUNE_DEFAULTS } from '../finetune/train';
import {
  addCatalogSourceOptions,
  addVoteOptions,
  CatalogSourceOptions,
  fraction,
  NON_NEGATIVE_INTEGER,
  NON_NEGATIVE_NUMBER,
  oneOf,
  orWord,
  POSITIVE_INTEGER,
  POSITIVE_NUMBER,
  resolveCatalog,
  validated,
} from './options';

interface FinetuneCliOptions extends CatalogSourceOptions {
  model: string;
  labelCol?: string;
  classes?: string;
  task: FinetuneTask;
  schema?: string;
  counts?: string;
  fractions?: string;
  total?: string;
  classCol?: string;
  head: HeadKind;
  unfreezeBlocks: number | 'all';
  lr?: number;
  encoderLr?: number;
  l2: number;
  epochs?: number;
  batch: number;
  patience?: number;
  valFraction: number;
  testFraction?: number;
  balance: boolean;
  augment: boolean;
  seed: number;
  featureCache?: string;
  out: string;
}

const D = FINETUNE_DEFAULTS;

export function finetuneCommand(): Command {
  const cmd = new Command('finetune')
    .description('fine-tune a new head (and optionally the top encoder blocks) on labelled galaxies; `galmorph predict --model <out>` then applies it')
    .option('--model <start>', `starting point (encoder): ${ENCODER_IDS.join(', ')}, or a galmorph model folder`, 'galmorph');
  addCatalogSourceOptions(cmd, { catalog: 'labelled catalogue (CSV, Parquet, Arrow)', dataset: 'or a dataset from data-manifests, e.g. decals-rings-470' })
    .option('--label-col <col>', 'label column (classification, regression), e.g. ring')
    .option('--classes <list>', 'comma-separated class order (classification; with two, the second is the positive class)')
    .addOption(validated('--task <task>', `${FINETUNE_TASKS.join(', ')} (tree: Galaxy Zoo votes with the options below)`, oneOf(FINETUNE_TASKS), 'classification'));
  return addVoteOptions(cmd)
    .addOption(validated('--head <kind>', `${HEAD_KINDS.join(', ')} (mlp: dense ${D.hidden}, dropout, dense ${D.hidden}, dropout, output)`, oneOf(HEAD_KINDS), D.head))
    .addOption(
      validated('--unfreeze-blocks <n>', "encoder blocks trained from the top: 0 (frozen encoder, features computed once), N, or 'all'", orWord(NON_NEGATIVE_INTEGER, 'all'), D.unfreezeBlocks),
    )
    .addOption(validated('--lr <rate>', `Adam learning rate of the head (default ${D.learningRate}; ${D.treeLearningRate} for --task tree)`, POSITIVE_NUMBER))
    .addOption(validated('--encoder-lr <rate>', 'learning rate of unfrozen blocks (default: lr/10; lr for scratch starts)', POSITIVE_NUMBER))
    .addOption(validated('--l2 <weight>', "L2 penalty on the head's kernels", NON_NEGATIVE_NUMBER, D.l2))
    .addOption(validated('--epochs <n>', `maximum epochs (default ${D.epochsFrozen} frozen, ${D.epochsUnfrozen} unfreezing)`, POSITIVE_INTEGER))
    .addOption(validated('--batch <n>', 'batch size', POSITIVE_INTEGER, D.batchSize))
    .addOption(validated('--patience <n>', `early stopping patience in epochs (default ${D.patienceFrozen} frozen, ${D.patienceUnfrozen} unfreezing)`, POSITIVE_INTEGER))
    .addOption(
      validated('--val-fraction <f>', `fraction of each class held out for early stopping (used when at least ${D.minValidation} per class)`, fraction('[0, 1)'), D.validationFraction),
    )
    .addOption(validated('--test-fraction <f>', 'fraction held out to measure the fine-tuned model (stratified; default none)', fraction('[0, 1)')))
    .option('--no-balance', 'no class-balancing loss weights')
    .option('--no-augment', 'no rotations, flips or crops when unfreezing')
    .addOption(validated('--seed <n>', 'seed of the splits, head initialisation, batch order and augmentations', NON_NEGATIVE_INTEGER, D.seed))
    .option('--feature-cache <file>', 'Parquet file caching the frozen features of the catalogue (reused when it matches)')
    .requiredOption('--out <dir>', 'output folder for the fine-tuned model')
    .action(async (opts: FinetuneCliOptions) => {
      console.error(`galmorph finetune — ${describeBackend(await initBackend())}`);
      const catalog = resolveCatalog(opts, 'finetune');
      const task = opts.task;
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
      const unfreeze = opts.unfreezeBlocks;
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
      const epochs = opts.epochs;
      let result;
      try {
        result = await finetuneCatalog({
          start: opts.model,
          catalog,
          task,
          labelCol: opts.labelCol,
          classes: opts.classes?.split(',').map((c) => c.trim()),
          votes: votes ?? undefined,
          head: opts.head,
          unfreezeBlocks: unfreeze,
          learningRate: opts.lr,
          encoderLearningRate: opts.encoderLr,
          l2: opts.l2,
          epochs,
          batchSize: opts.batch,
          patience: opts.patience,
          validationFraction: opts.valFraction,
          testFraction: opts.testFraction,
          balance: opts.balance,
          augment: opts.augment,
          seed: opts.seed,
          featureCache: opts.featureCache,
          out: opts.out,
          onFeatures: (done, total) => progress('features', done, total, 'galaxies'),
          onEpoch: (e) =>
            progress('training', e.epoch, epochs ?? (unfreeze === 0 ? D.epochsFrozen : D.epochsUnfrozen), `epochs; loss ${e.trainLoss.toFixed(4)}${e.valLoss !== undefined ? `, validation ${e.valLoss.toFixed(4)}` : ''}${e.best ? ' (best)' : ''}`),
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
