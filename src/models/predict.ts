/**
 * Predictions as data. `loadModel(dir)` reads either kind of model folder (`galmorph train`,
 * `galmorph finetune`); `predictCatalog(model, catalog)` gives one row per galaxy with named
 * columns, which the CLI writes as CSV and notebooks turn into tables and plots:
 *   galaxy model       `<answer>_fraction` (mean over Monte Carlo dropout samples) and
 *                      `<answer>_fraction_std` for one schema's answers
 *   fine-tuned model   `p_<class>` and `predicted`, `<column>_predicted`, or `<answer>_fraction`
 */
import * as tf from '@tensorflow/tfjs';
import { BatchOptions, mapImageBatches, sourceFiles } from '../data/batches';
import { Catalog } from '../data/catalog';
import { selectRows } from '../data/embeddings';
import { FineTunedModel, isFinetunedModelDir, predictionColumn } from './finetuned-model';
import { LoadedGalaxyModel, predictFractions } from './galaxy-model';
import { defaultModelDir, loadGalaxyModel } from './load';

export interface FilePredictionOptions extends BatchOptions {
  /** Monte Carlo dropout samples. Default 5. */
  samples?: number;
}

/**
 * Predicted fractions of one schema's answers for image files: the mean over Monte Carlo dropout
 * samples and its standard deviation, each [files, answers] row-major.
 */
export async function predictFiles(
  loaded: LoadedGalaxyModel,
  files: string[],
  schema: string,
  options: FilePredictionOptions = {},
): Promise<{ mean: Float32Array; std: Float32Array }> {
  const cols = loaded.space.indicesOf(schema);
  const A = cols.length;
  const S = loaded.space.size;
  const preprocess = { kind: 'galmorph', size: loaded.config.size, channels: loaded.config.channels } as const;
  // One row per image: the answers' means, then their standard deviations.
  const both = await mapImageBatches(files, preprocess, 2 * A, async (x: tf.Tensor4D) => {
    const n = x.shape[0];
    const { mean, std } = await predictFractions(loaded, x, options.samples ?? 5);
    const rows = new Float32Array(n * 2 * A);
    for (let i = 0; i < n; i++) {
      cols.forEach((c, j) => {
        rows[i * 2 * A + j] = mean[i * S + c]!;
        rows[i * 2 * A + A + j] = std[i * S + c]!;
      });
    }
    return rows;
  }, { label: 'predict', ...options });
  const out = { mean: new Float32Array(files.length * A), std: new Float32Array(files.length * A) };
  for (let i = 0; i < files.length; i++) {
    out.mean.set(both.subarray(i * 2 * A, i * 2 * A + A), i * A);
    out.std.set(both.subarray(i * 2 * A + A, (i + 1) * 2 * A), i * A);
  }
  return out;
}

/** Either kind of trained model. */
export type GalmorphModel = LoadedGalaxyModel | FineTunedModel;

/** Loads a galaxy model or a fine-tuned model from its folder (default: the committed pretrained model). */
export async function loadModel(dir: string = defaultModelDir()): Promise<GalmorphModel> {
  return isFinetunedModelDir(dir) ? FineTunedModel.load(dir) : loadGalaxyModel(dir);
}

/** One row per galaxy: `id`, the numeric columns, and `predicted` (a class) where there is one. */
export class CatalogPrediction {
  constructor(
    readonly ids: string[],
    readonly columns: string[],
    /** Row-major [ids, columns]. */
    readonly values: Float32Array,
    /** Classification: the most probable class of each galaxy. */
    readonly labels?: string[],
  ) {}

  /** One column's values, [galaxies]; the error lists the columns there are. */
  column(name: string): Float32Array {
    return predictionColumn(this, name);
  }

  /** Tidy rows (values rounded to `digits`), e.g. for a table or CSV. */
  rows(digits = 5): Record<string, string | number>[] {
    const w = this.columns.length;
    return this.ids.map((id, i) => {
      const row: Record<string, string | number> = { id };
      this.columns.forEach((c, j) => (row[c] = Number(this.values[i * w + j]!.toFixed(digits))));
      if (this.labels) row.predicted = this.labels[i]!;
      return row;
    });
  }
}

export interface PredictCatalogOptions extends FilePredictionOptions {
  /** Galaxy models: which of the model's schemas to predict. Default: its first. */
  schema?: string;
}

/** Predictions for every galaxy of a catalogue, from a galaxy model or a fine-tuned model. */
export async function predictCatalog(model: GalmorphModel, catalog: Catalog, options: PredictCatalogOptions = {}): Promise<CatalogPrediction> {
  const { ids, files, describe } = sourceFiles(catalog);
  const skipped = new Set<number>();
  const batchOptions: PredictCatalogOptions = { describe, ...options, onSkip: (s) => {
    skipped.add(s.index);
    options.onSkip?.(s);
  } };
  let prediction: CatalogPrediction;
  if (model instanceof FineTunedModel) {
    const p = await model.predictFiles(files, batchOptions);
    prediction = new CatalogPrediction(ids, p.columns, p.values, p.labels);
  } else {
    const schema = options.schema ?? model.config.schemas[0]!;
    const answers = model.space.indicesOf(schema).map((c) => model.space.answers[c]!.answer);
    const { mean, std } = await predictFiles(model, files, schema, batchOptions);
    const A = answers.length;
    const values = new Float32Array(files.length * 2 * A);
    for (let i = 0; i < files.length; i++) {
      for (let j = 0; j < A; j++) {
        values[i * 2 * A + 2 * j] = mean[i * A + j]!;
        values[i * 2 * A + 2 * j + 1] = std[i * A + j]!;
      }
    }
    prediction = new CatalogPrediction(ids, answers.flatMap((a) => [`${a}_fraction`, `${a}_fraction_std`]), values);
  }
  if (skipped.size === 0) return prediction;
  // Images left out (skipUnreadable) have no row.
  const keep = ids.map((_, i) => i).filter((i) => !skipped.has(i));
  const w = prediction.columns.length;
  return new CatalogPrediction(
    keep.map((i) => ids[i]!),
    prediction.columns,
    selectRows({ ids, vectors: prediction.values, dim: w }, keep),
    prediction.labels && keep.map((i) => prediction.labels![i]!),
  );
}

/** Frees a model loaded by loadModel. */
export function disposeModel(model: GalmorphModel): void {
  if (model instanceof FineTunedModel) model.dispose();
  else model.model.dispose();
}
