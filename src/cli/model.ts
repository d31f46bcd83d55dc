/**
 * `galmorph train` and `galmorph predict`: thin over src/training and src/models.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { addVoteOptions } from './options';
import { MultiBar, Presets } from 'cli-progress';
import Papa from 'papaparse';
import { describeBackend, initBackend } from '../backend/select';
import { Catalog, readCatalog } from '../data/catalog';
import { FineTunedModel, isFinetunedModelDir } from '../finetune/model';
import { defaultModelDir, loadGalaxyModel } from '../models/load';
import { predictFiles } from '../models/evaluate';
import { writeModelCard } from '../models/model-card';
import { embedCatalog } from '../representations/embed';
import { formatExplainedVariance, pcaFileFor, RepresentationPca, writePca } from '../representations/pca';
import { trainGalaxyModel } from '../training/train-galaxy';
import { fromCatalog, loadVoteDataset, VoteDataset } from '../training/vote-data';
import { VoteColumns } from '../schemas/votes';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface TrainCliOptions {
  dataset?: string[];
  catalog?: string;
  schema?: string;
  idCol: string;
  imageCol: string;
  counts?: string;
  fractions?: string;
  total?: string;
  classCol?: string;
  arch: string;
  size: string;
  greyscale?: boolean;
  dropout: string;
  epochs: string;
  batch: string;
  lr: string;
  patience: string;
  seed: string;
  microBatch?: string;
  maxSteps?: string;
  augment: boolean;
  resume?: boolean;
  out: string;
}

function datasetsFrom(opts: TrainCliOptions): VoteDataset[] {
  const sets = (opts.dataset ?? []).map((id) => loadVoteDataset(id));
  if (opts.catalog) {
    if (!opts.schema) throw new Error('galmorph train: --catalog needs --schema (gz2, gz-decals-dr5 or gz1)');
    const votes: VoteColumns = { counts: opts.counts, fractions: opts.fractions, total: opts.total, classColumn: opts.classCol };
    sets.push(fromCatalog(readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol }), opts.schema, votes));
  }
  if (sets.length === 0) throw new Error('galmorph train: give --dataset <id> (repeatable; see `galmorph data list`) or --catalog <file> --schema <name>');
  return sets;
}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`galmorph: ${name} must be a positive integer, got '${v}'`);
  return n;
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train the galaxy model on volunteer votes (Dirichlet-multinomial), with checkpoints and --resume')
    .option('--dataset <id>', 'a dataset with votes from data-manifests (repeatable)', collect)
    .option('--catalog <file>', 'your own catalogue (CSV, Parquet, Arrow) with vote columns')
    .option('--id-col <col>', 'id column of --catalog', 'id')
    .option('--image-col <col>', 'image column of --catalog', 'file');
  return addVoteOptions(cmd)
    .option('--arch <name>', 'encoder: galmorph-cnn, smallcnn, efficientnet-b0', 'galmorph-cnn')
    .option('--size <px>', 'input size', '64')
    .option('--greyscale', 'one channel instead of RGB')
    .option('--dropout <rate>', 'dropout before the head (kept on at prediction)', '0.25')
    .option('--epochs <n>', 'maximum epochs', '15')
    .option('--batch <n>', 'batch size', '32')
    .option('--lr <rate>', 'Adam learning rate', '0.001')
    .option('--patience <n>', 'early stopping patience (epochs)', '3')
    .option('--seed <n>', 'seed of the split and augmentations', '0')
    .option('--micro-batch <n>', 'examples per forward/backward pass (memory)')
    .option('--max-steps <n>', 'at most this many steps per epoch (quick runs)')
    .option('--no-augment', 'no rotations, flips or crops')
    .option('--resume', 'continue from <out>/checkpoint')
    .requiredOption('--out <dir>', 'output folder, e.g. models/my-model')
    .action(async (opts: TrainCliOptions) => {
      console.log(`galmorph train — ${describeBackend(await initBackend())}`);
      const datasets = datasetsFrom(opts);
      const bars = new MultiBar({ format: 'epoch {epoch} [{bar}] {value}/{total} steps, loss {loss}', stream: process.stderr, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10_000, hideCursor: true }, Presets.shades_classic);
      let bar: ReturnType<MultiBar['create']> | undefined;
      let barEpoch = 0;
      try {
        await trainGalaxyModel({
          datasets,
          out: opts.out,
          model: { arch: opts.arch, size: int('--size', opts.size), channels: opts.greyscale ? 1 : 3, dropout: Number(opts.dropout) },
          epochs: int('--epochs', opts.epochs),
          batchSize: int('--batch', opts.batch),
          learningRate: Number(opts.lr),
          patience: int('--patience', opts.patience),
          seed: Number(opts.seed),
          microBatch: opts.microBatch ? int('--micro-batch', opts.microBatch) : undefined,
          maxStepsPerEpoch: opts.maxSteps ? int('--max-steps', opts.maxSteps) : undefined,
          augment: opts.augment,
          resume: opts.resume,
          onStep: (epoch, step, steps, loss) => {
            if (!bar || barEpoch !== epoch) {
              bar?.stop();
              bar = bars.create(steps, 0, { epoch, loss: '-' });
              barEpoch = epoch;
            }
            bar.update(step, { loss: loss.toFixed(3) });
          },
          // MultiBar.log only prints on a terminal; elsewhere (CI logs, notebooks) plain lines.
          log: (line) => (process.stderr.isTTY ? bars.log(`${line}\n`) : console.error(line)),
        });
      } finally {
        bars.stop();
      }
      console.log(`model written to ${path.resolve(opts.out)} (best epoch in model/, log in train-log.jsonl)`);
    });
}

interface PredictCliOptions {
  model?: string;
  catalog: string;
  idCol: string;
  imageCol: string;
  schema?: string;
  samples: string;
  batch: string;
  out: string;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('predicted vote fractions (mean of Monte Carlo dropout samples) and their spread, per galaxy and answer; with a fine-tuned model, its predictions')
    .option('--model <dir>', `a model folder from galmorph train or galmorph finetune (default: ${path.relative(process.cwd(), defaultModelDir()) || defaultModelDir()})`)
    .requiredOption('--catalog <file>', 'catalogue of galaxies (CSV, Parquet, Arrow)')
    .option('--id-col <col>', 'id column', 'id')
    .option('--image-col <col>', 'image column', 'file')
    .option('--schema <name>', "which of the model's schemas to write (default: its first)")
    .option('--samples <n>', 'Monte Carlo dropout samples', '5')
    .option('--batch <n>', 'galaxies per batch', '32')
    .requiredOption('--out <file>', 'CSV to write')
    .action(async (opts: PredictCliOptions) => {
      console.error(`galmorph predict — ${describeBackend(await initBackend())}`);
      const catalog = readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol });
      if (opts.model && isFinetunedModelDir(opts.model)) {
        await predictFinetuned(opts.model, catalog, int('--batch', opts.batch), opts.out);
        return;
      }
      const loaded = await loadGalaxyModel(opts.model);
      const schema = opts.schema ?? loaded.config.schemas[0]!;
      const cols = loaded.space.indicesOf(schema);
      const names = cols.map((c) => loaded.space.answers[c]!.answer);
      const header = ['id', ...names.flatMap((a) => [`${a}_fraction`, `${a}_fraction_std`])];
      const { mean, std } = await predictFiles(loaded, catalog.rows.map((r) => catalog.imagePath(r)), schema, {
        samples: int('--samples', opts.samples),
        batch: int('--batch', opts.batch),
        onProgress: (done, total) => process.stderr.write(`\r  ${done}/${total} galaxies`),
      });
      const A = cols.length;
      const rows = catalog.rows.map((r, i) => [r[catalog.idCol]!, ...cols.flatMap((_, j) => [Number(mean[i * A + j]!.toFixed(5)), Number(std[i * A + j]!.toFixed(5))])]);
      process.stderr.write('\n');
      fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      fs.writeFileSync(opts.out, Papa.unparse({ fields: header, data: rows }, { newline: '\n' }) + '\n');
      console.error(`wrote ${rows.length} galaxies x ${names.length} answers (${schema}) to ${opts.out}`);
    });
}

/** Predictions of a fine-tuned model (galmorph finetune): probabilities and class, values, or vote fractions. */
async function predictFinetuned(dir: string, catalog: Catalog, batch: number, out: string): Promise<void> {
  const model = await FineTunedModel.load(dir);
  try {
    const pred = await model.predictFiles(catalog.rows.map((r) => catalog.imagePath(r)), {
      batchSize: batch,
      onProgress: (done, total) => process.stderr.write(`\r  ${done}/${total} galaxies`),
    });
    process.stderr.write('\n');
    const w = pred.columns.length;
    const header = ['id', ...pred.columns, ...(pred.labels ? ['predicted'] : [])];
    const rows = catalog.rows.map((r, i) => [
      r[catalog.idCol]!,
      ...pred.columns.map((_, j) => Number(pred.values[i * w + j]!.toFixed(5))),
      ...(pred.labels ? [pred.labels[i]!] : []),
    ]);
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, Papa.unparse({ fields: header, data: rows }, { newline: '\n' }) + '\n');
    console.error(`wrote ${rows.length} galaxies (${model.config.targets.task}, ${pred.columns.join(', ')}) to ${out}`);
  } finally {
    model.dispose();
  }
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description("test metrics of a trained model on the GZ2 galaxies of its test split; writes MODEL_CARD.md and metrics.json into the model folder")
    .option('--model <dir>', 'a model folder from galmorph train', defaultModelDir())
    .option('--samples <n>', 'Monte Carlo dropout samples', '5')
    .action(async (opts: { model: string; samples: string }) => {
      const { evaluation } = await writeModelCard(opts.model, int('--samples', opts.samples));
      console.log(`GZ2 test galaxies: ${evaluation.galaxies}; mean MAE ${evaluation.mean_mae.toFixed(4)} (training-mean baseline ${evaluation.mean_baseline_mae.toFixed(4)})`);
      console.log(`wrote ${path.join(opts.model, 'MODEL_CARD.md')} and metrics.json`);
    });
}

export function embedCommand(): Command {
  return new Command('embed')
    .description("the galaxy model's representation of every galaxy of a catalogue (Parquet or Arrow: id, vector); a rerun continues an interrupted one")
    .option('--model <dir>', 'a model folder from galmorph train', defaultModelDir())
    .requiredOption('--catalog <file>', 'catalogue of galaxies (CSV, Parquet, Arrow)')
    .option('--id-col <col>', 'id column', 'id')
    .option('--image-col <col>', 'image column', 'file')
    .option('--batch <n>', 'galaxies per forward pass', '64')
    .option('--part-size <n>', 'galaxies per resumable part', '1024')
    .requiredOption('--out <file>', 'output: .parquet, or .arrow for Arrow IPC')
    .option('--pca <n>', 'also fit a PCA of n components and write it beside the output (emb.parquet -> emb.pca.json), reusable with galmorph similar --pca-file')
    .option('--pca-scale', 'with --pca: standardise each dimension first')
    .action(async (opts: { model: string; catalog: string; idCol: string; imageCol: string; batch: string; partSize: string; out: string; pca?: string; pcaScale?: boolean }) => {
      const components = opts.pca === undefined ? undefined : int('--pca', opts.pca);
      console.error(`galmorph embed — ${describeBackend(await initBackend())}`);
      const loaded = await loadGalaxyModel(opts.model);
      const catalog = readCatalog(opts.catalog, { idCol: opts.idCol, imageCol: opts.imageCol });
      const e = await embedCatalog(loaded, catalog, opts.out, {
        batchSize: int('--batch', opts.batch),
        partSize: int('--part-size', opts.partSize),
        onProgress: (done, total) => process.stderr.write(`\r  ${done}/${total} galaxies`),
        log: (line) => console.error(line),
      });
      process.stderr.write('\n');
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
