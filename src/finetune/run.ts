/**
 * Fine-tuning a catalogue end to end (what `galmorph finetune` runs): targets from a column (or
 * vote columns for a tree), an optional stratified held-out test split, frozen features computed
 * once (or read from a cache), training, test metrics, and the saved model folder.
 */
import * as path from 'node:path';
import { Catalog } from '../data/catalog';
import { seededRng, shuffle } from '../data/augment';
import { selectRows } from '../data/embeddings';
import { encode } from '../encoders/encode';
import { loadEncoder, LoadEncoderOptions } from '../encoders/registry';
import { AnswerSpace } from '../models/galaxy-model';
import { predictionColumn } from '../models/finetuned-model';
import { cachedEmbeddings } from '../representations/cache';
import type { VoteDataset } from '../schemas/vote-datasets';
import { classificationTargets, FINETUNE_TASKS, FinetuneTask, regressionTargets, selectTargets, Targets, treeTargets } from './labels';
import { binaryAccuracy, multiclassAccuracy, regressionScores, rocAuc } from './metrics';
import { FineTunedModel, FinetunePrediction } from '../models/finetuned-model';
import { finetune, FinetuneOptions } from './train';

export interface FinetuneCatalogOptions extends FinetuneOptions {
  /** Encoder to start from: a registry id (see ENCODER_IDS) or a galmorph model folder. Default 'galmorph'. */
  start?: string;
  startOptions?: LoadEncoderOptions;
  catalog: Catalog;
  task?: FinetuneTask;
  /** Label column (classification, regression). */
  labelCol?: string;
  /** Class order (classification); default sorted. */
  classes?: string[];
  /** Votes for a tree task (its catalogue must be `catalog`). */
  votes?: VoteDataset;
  /** Fraction held out (stratified for classification) to measure the fine-tuned model. Default 0. */
  testFraction?: number;
  /** Parquet file caching the frozen features of the whole catalogue. */
  featureCache?: string;
  /** Folder to save the fine-tuned model in. */
  out?: string;
  onFeatures?: (done: number, total: number) => void;
}

export interface FinetuneCatalogResult {
  model: FineTunedModel;
  /** Scores on the held-out galaxies (empty without testFraction). */
  metrics: Record<string, number>;
  testIds: string[];
}

function targetsFor(o: FinetuneCatalogOptions): Targets {
  const task = o.task ?? 'classification';
  if (!FINETUNE_TASKS.includes(task)) throw new Error(`galmorph: unknown task '${task}'. Valid choices: ${FINETUNE_TASKS.join(', ')}`);
  if (task === 'tree') {
    if (!o.votes) throw new Error('galmorph: the tree task needs vote columns (a schema and counts, fractions + total, or a class column)');
    return treeTargets(o.votes);
  }
  if (!o.labelCol) throw new Error(`galmorph: the ${task} task needs a label column`);
  return task === 'classification' ? classificationTargets(o.catalog, o.labelCol, o.classes) : regressionTargets(o.catalog, o.labelCol);
}

/** Stratified (classification) or random held-out indices. */
function holdout(t: Targets, fraction: number, seed: number): { train: number[]; test: number[] } {
  const all = Array.from({ length: t.ids.length }, (_, i) => i);
  if (!(fraction > 0)) return { train: all, test: [] };
  if (fraction >= 1) throw new Error(`galmorph: the test fraction must be below 1, got ${fraction}`);
  const rng = seededRng(seed * 6151 + 3);
  const groups: number[][] = [];
  if (t.classIndex) t.classIndex.forEach((c, i) => (groups[c] ??= []).push(i));
  else groups.push(all);
  const test = groups.filter(Boolean).flatMap((g) => shuffle([...g], rng).slice(0, Math.round(g.length * fraction)));
  const held = new Set(test);
  return { train: all.filter((i) => !held.has(i)), test: test.sort((a, b) => a - b) };
}

/** Scores of predictions against targets. */
export function scorePredictions(t: Targets, p: FinetunePrediction): Record<string, number> {
  const n = t.ids.length;
  if (t.info.task === 'classification') {
    const k = t.info.classes!.length;
    if (k === 2) {
      const labels = Array.from(t.classIndex!);
      const scores = predictionColumn(p, `p_${t.info.classes![1]!}`);
      return { accuracy: binaryAccuracy(labels, scores), auc: rocAuc(labels, scores), examples: n };
    }
    return { accuracy: multiclassAccuracy(t.classIndex!, p.values, k), examples: n };
  }
  if (t.info.task === 'regression') {
    const truth = Array.from(t.y, (v) => v * t.info.std! + t.info.mean!);
    return { ...regressionScores(truth, p.values), examples: n };
  }
  // Tree: mean absolute error of the vote fractions over answered questions.
  const answers = t.width;
  let sum = 0;
  let count = 0;
  const groups = answerGroups(t);
  for (let i = 0; i < n; i++) {
    for (const g of groups) {
      const total = g.reduce((a, j) => a + t.y[i * answers + j]!, 0);
      if (total <= 0) continue;
      for (const j of g) {
        sum += Math.abs(t.y[i * answers + j]! / total - p.values[i * answers + j]!);
        count++;
      }
    }
  }
  return { fraction_mae: count ? sum / count : NaN, examples: n };
}

function answerGroups(t: Targets): number[][] {
  return AnswerSpace.fromNames([t.info.schema!]).groups;
}

/** Fine-tunes on a catalogue; measures on a held-out part when asked; saves when `out` is given. */
export async function finetuneCatalog(o: FinetuneCatalogOptions): Promise<FinetuneCatalogResult> {
  const targets = targetsFor(o);
  const start = await loadEncoder(o.start ?? 'galmorph', o.startOptions);
  let handedOver = false;
  try {
    const { train, test } = holdout(targets, o.testFraction ?? 0, o.seed ?? 0);
    const files = o.catalog.rows.map((r) => o.catalog.imagePath(r));
    const frozen = (o.unfreezeBlocks ?? 0) === 0;
    const features = frozen
      ? o.featureCache
        ? await cachedEmbeddings(start, o.catalog, path.resolve(o.featureCache), { onProgress: o.onFeatures })
        : await encode(start, o.catalog, { onProgress: o.onFeatures })
      : undefined;
    const model = await finetune(
      start,
      selectTargets(targets, train),
      features ? { features: selectRows(features, train) } : { files: train.map((i) => files[i]!) },
      o,
    );
    // A frozen model uses the starting point's encoder: it now owns the starting point.
    if (frozen) {
      model.adopt(() => start.dispose());
      handedOver = true;
    }
    let metrics: Record<string, number> = {};
    if (test.length) {
      const pred = features ? await model.predictFeatures(selectRows(features, test)) : await model.predictFiles(test.map((i) => files[i]!));
      metrics = scorePredictions(selectTargets(targets, test), pred);
      model.config.metrics = metrics;
    }
    if (o.out) await model.save(o.out);
    return { model, metrics, testIds: test.map((i) => targets.ids[i]!) };
  } finally {
    if (!handedOver) start.dispose();
  }
}
