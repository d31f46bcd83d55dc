/**
 * Targets for fine-tuning, read from a catalogue:
 *   classification  one column of class names (two classes: one sigmoid output for the second,
 *                   the positive class; more: softmax);
 *   regression      one numeric column, standardised for training (mean and std are kept);
 *   tree            Galaxy Zoo vote counts on a decision tree (Dirichlet-multinomial, as the
 *                   galaxy model), from a VoteDataset.
 */
import { Catalog } from '../data/catalog';
import { AnswerSpace } from '../models/galaxy-model';
import { FINETUNE_TASKS, FinetuneTask, TargetInfo } from '../models/finetuned-model';
import type { VoteDataset } from '../schemas/vote-datasets';

export { FINETUNE_TASKS } from '../models/finetuned-model';
export type { FinetuneTask, TargetInfo } from '../models/finetuned-model';

export interface Targets {
  info: TargetInfo;
  ids: string[];
  /** Row-major [n, width]: 0/1 (two classes), one-hot (more), standardised values, or vote counts. */
  y: Float32Array;
  width: number;
  /** Class index of each example (classification), for balancing and accuracy. */
  classIndex?: Int32Array;
}

/** The output layer a task needs. */
export function outputSpec(info: TargetInfo): { outputs: number; activation: 'sigmoid' | 'softmax' | 'linear' } {
  if (info.task === 'classification') {
    const k = info.classes!.length;
    return k === 2 ? { outputs: 1, activation: 'sigmoid' } : { outputs: k, activation: 'softmax' };
  }
  if (info.task === 'regression') return { outputs: 1, activation: 'linear' };
  return { outputs: info.answers!.length, activation: 'sigmoid' };
}

function column(catalog: Catalog, name: string): string[] {
  const header = Object.keys(catalog.rows[0] ?? {});
  if (catalog.length > 0 && !header.includes(name)) {
    throw new Error(`galmorph: ${catalog.file} has no column '${name}'. Columns: ${header.join(', ')}`);
  }
  const values = catalog.column(name).map((v) => (v ?? '').trim());
  const blank = values.map((v, i) => (v === '' ? i + 2 : -1)).filter((r) => r > 0);
  if (blank.length) throw new Error(`galmorph: ${catalog.file}, column '${name}' is empty in ${blank.length} rows (first: row ${blank.slice(0, 5).join(', ')}); drop unlabelled galaxies first`);
  return values;
}

/** Class labels from a column. `classes` fixes the order (default: sorted, numbers numerically). */
export function classificationTargets(catalog: Catalog, col: string, classes?: string[]): Targets {
  const values = column(catalog, col);
  const found = [...new Set(values)];
  const order =
    classes ??
    found.sort((a, b) => (Number.isFinite(Number(a)) && Number.isFinite(Number(b)) ? Number(a) - Number(b) : a.localeCompare(b)));
  const unknown = found.filter((v) => !order.includes(v));
  if (unknown.length) throw new Error(`galmorph: ${catalog.file}, column '${col}' has values ${unknown.join(', ')} outside the classes ${order.join(', ')}`);
  if (order.length < 2) throw new Error(`galmorph: ${catalog.file}, column '${col}' holds only one class (${order.join(', ')}): nothing to classify`);
  const k = order.length;
  const width = k === 2 ? 1 : k;
  const y = new Float32Array(values.length * width);
  const classIndex = new Int32Array(values.length);
  values.forEach((v, i) => {
    const c = order.indexOf(v);
    classIndex[i] = c;
    if (k === 2) y[i] = c;
    else y[i * k + c] = 1;
  });
  return { info: { task: 'classification', column: col, classes: order }, ids: catalog.ids(), y, width, classIndex };
}

/** Two-class targets from 0/1 labels; `classes` names them (negative, positive). */
export function binaryTargets(ids: string[], labels: ArrayLike<number>, classes: [string, string], column?: string): Targets {
  if (ids.length !== labels.length) throw new Error(`galmorph: ${ids.length} ids but ${labels.length} labels`);
  const y = Float32Array.from(labels, (v) => (v > 0.5 ? 1 : 0));
  return { info: { task: 'classification', column, classes: [...classes] }, ids: [...ids], y, width: 1, classIndex: Int32Array.from(y) };
}

/** Numeric targets from a column, standardised. */
export function regressionTargets(catalog: Catalog, col: string): Targets {
  const values = column(catalog, col).map(Number);
  const bad = values.map((v, i) => (Number.isFinite(v) ? -1 : i + 2)).filter((r) => r > 0);
  if (bad.length) throw new Error(`galmorph: ${catalog.file}, column '${col}' is not a number in ${bad.length} rows (first: row ${bad.slice(0, 5).join(', ')})`);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
  return { info: { task: 'regression', column: col, mean, std }, ids: catalog.ids(), y: Float32Array.from(values, (v) => (v - mean) / std), width: 1 };
}

/** Vote counts on a decision tree (the dataset's schema). */
export function treeTargets(dataset: VoteDataset): Targets {
  const space = AnswerSpace.fromNames([dataset.schema]);
  return {
    info: { task: 'tree', schema: dataset.schema, answers: space.answers.map((a) => a.answer) },
    ids: dataset.catalog.ids(),
    y: Float32Array.from(dataset.counts),
    width: space.size,
  };
}

/** The targets of some examples (by index), in that order. */
export function selectTargets(t: Targets, indices: number[]): Targets {
  const y = new Float32Array(indices.length * t.width);
  indices.forEach((i, r) => y.set(t.y.subarray(i * t.width, (i + 1) * t.width), r * t.width));
  return {
    info: t.info,
    ids: indices.map((i) => t.ids[i]!),
    y,
    width: t.width,
    classIndex: t.classIndex ? Int32Array.from(indices, (i) => t.classIndex![i]!) : undefined,
  };
}

/** Per-example loss weights that give every class the same total weight (mean weight 1). */
export function balanceWeights(classIndex: Int32Array, classes: number): Float32Array {
  const counts = new Array<number>(classes).fill(0);
  classIndex.forEach((c) => counts[c]!++);
  const present = counts.filter((c) => c > 0).length;
  return Float32Array.from(classIndex, (c) => classIndex.length / (present * counts[c]!));
}
