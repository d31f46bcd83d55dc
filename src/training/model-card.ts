/**
 * The model card of a trained galaxy model: data, split, training, backend, wall time, and test
 * metrics on the GZ2 galaxies of its test split (`galmorph evaluate`). Written next to the model
 * as MODEL_CARD.md and metrics.json; every number comes from the files of that training run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend/select';
import { projectRoot } from '../paths';
import { AnswerSpace, concentrationFloorOf, LoadedGalaxyModel } from '../models/galaxy-model';
import { defaultEncoderDir, defaultModelDir, loadGalaxyModel } from '../models/load';
import { compareFractions, Evaluation, fractionsFromCounts, meanFractions } from '../models/evaluate';
import { KAGGLE_REFERENCES, kaggleHeldOut, KaggleResult } from '../models/kaggle-rmse';
import { predictFiles } from '../models/predict';
import { loadVoteDataset } from '../schemas/vote-datasets';
import { assemble, TrainingSet } from './vote-data';
import { describeExclusion } from './exclusion';
import type { EpochRecord } from './train-galaxy';

const GZ2_DATASET = 'gz2-hart16-1000';

export interface Gz2TestResult {
  evaluation: Evaluation;
  galaxies: number;
  /** Ids (`gz2-hart16-1000:<asset_id>`) and image files of the test galaxies. */
  ids: string[];
  files: string[];
  /** [galaxies, 37] volunteer and predicted fractions (NaN where a question was not reached). */
  truth: Float64Array;
  predicted: Float32Array;
  space: AnswerSpace;
}

/** Predictions for the GZ2 galaxies of a model's test split, and their metrics. */
export async function evaluateOnGz2Test(loaded: LoadedGalaxyModel, split: { train: string[]; test: string[] }, samples = 5): Promise<Gz2TestResult> {
  const gz2 = loadVoteDataset(GZ2_DATASET);
  const space = new AnswerSpace(loaded.space.schemas.filter((s) => s.name === 'gz2'));
  const set = assemble([gz2], space);
  const row = new Map(set.ids.map((id, i) => [id, i]));
  const pick = (ids: string[]) => ids.filter((id) => row.has(id)).map((id) => row.get(id)!);
  const testRows = pick(split.test);
  const trainRows = pick(split.train);
  const A = space.size;
  const countsOf = (rows: number[]) => {
    const c = new Float32Array(rows.length * A);
    rows.forEach((r, i) => c.set(set.counts.subarray(r * A, (r + 1) * A), i * A));
    return c;
  };
  const truth = fractionsFromCounts(countsOf(testRows), testRows.length, space, 'gz2');
  const trainMean = meanFractions(fractionsFromCounts(countsOf(trainRows), trainRows.length, space, 'gz2'), A);
  const files = testRows.map((r) => set.files[r]!);
  const predicted = (await predictFiles(loaded, files, 'gz2', { samples })).mean;
  const evaluation = compareFractions(space, 'gz2', predicted, truth, trainMean);
  return { evaluation, galaxies: testRows.length, ids: testRows.map((r) => set.ids[r]!), files, truth, predicted, space };
}

/** The split a training run wrote. */
export function readSplit(dir: string): { seed: number; train: string[]; val: string[]; test: string[] } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'split.json'), 'utf8'));
}

/** The epoch records a training run wrote. */
export function readTrainLog(dir: string): EpochRecord[] {
  return fs
    .readFileSync(path.join(dir, 'train-log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EpochRecord);
}

export interface CardResult {
  evaluation: Evaluation;
  card: string;
}

function fmt(x: number, d = 3): string {
  return Number.isFinite(x) ? x.toFixed(d) : 'n/a';
}

/** The card's line on the votes a run never trained on, with what they took from each dataset. */
function exclusionLine(e: TrainingSet['exclusion']): string {
  if (!e) return 'Excluded from training: nothing (every vote of these datasets was a training label).';
  const taken = e.counts.map((c) => `${c.dataset}: ${c.votes.toLocaleString('en')} votes of ${c.galaxies.toLocaleString('en')} galaxies masked, ${c.dropped.toLocaleString('en')} galaxies dropped (no votes left)`);
  const scored = (e.spec.questions?.gz2 ?? []).length > 0 ? ' The GZ2 test metrics below still score the excluded questions, which the model never learned.' : '';
  return `Excluded from training (${describeExclusion(e)}). ${taken.join('; ')}.${scored}`;
}

/** Evaluates the model on its GZ2 test galaxies and writes MODEL_CARD.md + metrics.json. */
export async function writeModelCard(dir: string, samples = 5): Promise<CardResult> {
  const backend = await initBackend();
  const loaded = await loadGalaxyModel(dir);
  const info = JSON.parse(fs.readFileSync(path.join(loaded.dir, 'config.json'), 'utf8')) as {
    datasets: { id: string; galaxies: number; schema: string; votes: string }[];
    /** Absent in runs from before exclusions existed. */
    exclusion?: TrainingSet['exclusion'];
    datasetWeights?: Record<string, number> | null;
    training: Record<string, unknown>;
  };
  const split = readSplit(loaded.dir);
  const log = readTrainLog(loaded.dir);
  if (!loaded.config.schemas.includes('gz2')) throw new Error(`galmorph: ${loaded.dir} has no GZ2 output to evaluate`);

  const { evaluation, galaxies: testGalaxies } = await evaluateOnGz2Test(loaded, split, samples);
  const kaggle = await kaggleHeldOut(loaded, info.datasets.map((d) => d.id), split.test, samples);
  const best = log.filter((r) => r.best).at(-1);
  const wall = log.reduce((s, r) => s + r.seconds, 0);
  const lines = [
    `# Model card: ${path.basename(loaded.dir)}`,
    '',
    `${roleOf(loaded.dir)} Written by`,
    `\`galmorph evaluate --model ${path.relative(process.cwd(), loaded.dir) || '.'}\` from this folder's own files.`,
    '',
    '## Model',
    '',
    `- encoder \`${loaded.config.arch}\` at ${loaded.config.size} px, ${loaded.config.channels === 1 ? 'greyscale' : 'RGB'}; ${loaded.model.countParams().toLocaleString('en')} parameters`,
    `- head: dropout ${loaded.config.dropout} (kept on at prediction: Monte Carlo dropout), dense to ${loaded.space.size} Dirichlet concentrations ${concentrationFloorOf(loaded.config)} + 100·sigmoid${loaded.config.concentrationFloor === undefined ? " (Zoobot's)" : ""}`,
    `- outputs: ${loaded.config.schemas.map((s) => `${s} (${loaded.space.indicesOf(s).length} answers)`).join(', ')}`,
    '- loss: Dirichlet-multinomial negative log-likelihood of the vote counts, summed over questions (Zoobot)',
    '',
    '## Data',
    '',
    '| dataset | galaxies | schema | votes |',
    '| --- | --- | --- | --- |',
    ...info.datasets.map((d) => `| ${d.id} | ${d.galaxies} | ${d.schema} | ${d.votes} |`),
    '',
    `Split (seed ${split.seed}, over all galaxies): ${split.train.length} train, ${split.val.length} validation, ${split.test.length} test. The ring labels of decals-rings-470 are never read.`,
    '',
    exclusionLine(info.exclusion ?? null),
    '',
    '## Training',
    '',
    `- ${log.length} epochs run (early stopping on validation loss), best epoch ${best?.epoch ?? 'n/a'} (validation loss ${fmt(best?.val_loss ?? NaN)})`,
    `- settings: ${Object.entries(info.training).filter(([k]) => k !== 'backend').map(([k, v]) => `${k} ${String(v)}`).join(', ')}`,
    `- dataset loss weights: ${info.datasetWeights ? `${Object.entries(info.datasetWeights).map(([id, w]) => `${id} ${w}`).join(', ')} (each galaxy's loss term times its dataset's weight; a batch's loss is the weighted mean)` : '1 each'}`,
    `- wall time ${(wall / 60).toFixed(1)} min of training epochs, ${log[0]?.finished?.slice(0, 10) ?? ''}${info.training.backend ? `; trained on ${String(info.training.backend)}` : ''}`,
    `- evaluated on ${describeBackend(backend)}`,
    '',
    '| epoch | train loss | validation loss |',
    '| --- | --- | --- |',
    ...log.map((r) => `| ${r.epoch} | ${fmt(r.train_loss)} | ${fmt(r.val_loss)}${r.best ? ' (best)' : ''} |`),
    '',
    `## Test metrics: GZ2, ${testGalaxies} held-out galaxies`,
    '',
    `Mean over answers of the mean absolute error of the predicted vote fraction (mean of ${samples} MC-dropout samples): **${fmt(evaluation.mean_mae)}**, against **${fmt(evaluation.mean_baseline_mae)}** for a baseline that always predicts the training galaxies' mean fraction. Volunteer fractions are those of the reconstructed vote counts; an answer is scored on the galaxies whose question was reached.`,
    '',
    'The last two columns show bias: an answer whose mean prediction is far from the volunteers\' mean is over- or under-predicted across the board.',
    '',
    '| answer | galaxies | MAE | baseline MAE | mean predicted | volunteers\' mean |',
    '| --- | --- | --- | --- | --- | --- |',
    ...evaluation.answers.map((a) => `| ${a.answer} | ${a.n} | ${fmt(a.mae)} | ${fmt(a.baseline_mae)} | ${fmt(a.mean_predicted)} | ${fmt(a.mean_volunteers)} |`),
    '',
    `Accuracy where volunteers were confident (leading answer's fraction > ${evaluation.threshold}): the predicted leading answer is the volunteers'.`,
    '',
    '| question | galaxies | accuracy |',
    '| --- | --- | --- |',
    ...evaluation.questions.map((q) => `| ${q.question} | ${q.n} | ${fmt(q.accuracy)} |`),
    '',
    ...kaggleSection(kaggle, samples, Boolean(info.exclusion)),
  ];
  const card = lines.join('\n');
  fs.writeFileSync(path.join(loaded.dir, 'MODEL_CARD.md'), card);
  fs.writeFileSync(path.join(loaded.dir, 'metrics.json'), JSON.stringify({ backend: backend.name, samples, ...evaluation, kaggle }, null, 2) + '\n');
  loaded.model.dispose();
  return { evaluation, card };
}

/** What the model is for: one of the two committed defaults, or a model to pass with --model. */
function roleOf(dir: string): string {
  const abs = path.resolve(dir);
  if (abs === defaultModelDir()) return 'The galaxy model whose predictions galmorph reports when none is given (`galmorph predict`, `galmorph evaluate`, `galmorph serve`).';
  if (abs === defaultEncoderDir()) return 'The galaxy model whose representation galmorph uses when none is given (the `galmorph` encoder: `galmorph embed`, similarity, anomaly, fine-tuning, notebooks 02-04).';
  return `A galaxy model for \`--model ${path.relative(process.cwd(), abs) || '.'}\` (the defaults are ${path.relative(projectRoot(), defaultModelDir())} for predictions, ${path.relative(projectRoot(), defaultEncoderDir())} for the representation).`;
}

/** The card's Kaggle section: the competition's RMSE on the held-out Kaggle galaxies beside its references. */
function kaggleSection(kaggle: KaggleResult, samples: number, excluded: boolean): string[] {
  if ('skipped' in kaggle) return [`## Test metrics: Kaggle Galaxy Challenge`, '', `Not measured: ${kaggle.skipped}.`, ''];
  return [
    `## Test metrics: Kaggle Galaxy Challenge, ${kaggle.galaxies} held-out galaxies`,
    '',
    `The competition's score, the RMSE over its cumulative vote columns, on the held-out gz2-kaggle-5000 galaxies of this model's test split (mean of ${samples} MC-dropout samples), over the ${kaggle.columns.length} columns the catalogue has (${kaggle.columns[0]} … ${kaggle.columns.at(-1)}): **${fmt(kaggle.rmse)}**.`,
    '',
    '| | RMSE |',
    '| --- | --- |',
    `| this model (${kaggle.columns.length} columns, ${kaggle.galaxies} held-out galaxies) | ${fmt(kaggle.rmse)} |`,
    ...KAGGLE_REFERENCES.map((r) => `| ${r.entry} (all 37 columns, Kaggle's test set) | ${r.rmse.toFixed(3)} |`),
    '',
    'The references score all 37 columns, including the detailed questions this catalogue lacks, on a different test set: a guide to scale, not a like-for-like comparison.' +
      (excluded ? ' The columns include the questions excluded from this model\'s training (above), which it never learned.' : ''),
    '',
  ];
}
