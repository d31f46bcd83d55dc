/**
 * The Kaggle Galaxy Challenge's score for bench/representation.ts: RMSE between the competition's
 * cumulative vote columns of the held-out gz2-kaggle-5000 galaxies (the model's split.json test ids
 * from that dataset) and the model's GZ2 predictions turned into that format, over the columns the
 * catalogue has (17 of the 37).
 * Optional: it needs src/schemas/kaggle.ts (`toKaggleCumulative`, `kaggleRmse`), which another branch
 * adds, and a model whose config.json lists gz2-kaggle-5000; otherwise the result is `{ skipped }`.
 * `score` below is the one place that assumes those two functions' signatures: check it after merging.
 */
import * as path from 'node:path';
import { openDatasetCatalog } from '../src/data/manifests';
import type { LoadedGalaxyModel } from '../src/models/galaxy-model';
import { predictFiles } from '../src/models/predict';

export const KAGGLE_DATASET = 'gz2-kaggle-5000';
const KAGGLE_MODULE = path.join(__dirname, '..', 'src', 'schemas', 'kaggle');

export type KaggleResult = { galaxies: number; columns: string[]; rmse: number } | { skipped: string };

/** What bench/representation.ts expects of src/schemas/kaggle.ts. */
interface KaggleModule {
  /** GZ2 per-question fractions of one galaxy, by answer key (t01_smooth_or_features_a01_smooth, …) → Kaggle columns (Class1.1, …). */
  toKaggleCumulative(fractions: Record<string, number>): Record<string, number>;
  /** The competition's RMSE over all galaxies and the given columns. */
  kaggleRmse(truth: Record<string, number>[], predicted: Record<string, number>[], columns: string[]): number;
}

function loadKaggleModule(): KaggleModule | string {
  let m: Partial<KaggleModule>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional until the Kaggle branch is merged
    m = require(KAGGLE_MODULE) as Partial<KaggleModule>;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes('kaggle');
    return missing ? 'src/schemas/kaggle.ts is not in this tree (Kaggle-format parsing comes from another branch)' : `src/schemas/kaggle.ts failed to load: ${(err as Error).message}`;
  }
  const absent = (['toKaggleCumulative', 'kaggleRmse'] as const).filter((f) => typeof m[f] !== 'function');
  return absent.length ? `src/schemas/kaggle.ts does not export ${absent.join(' and ')}` : (m as KaggleModule);
}

/** RMSE of the model on its held-out Kaggle galaxies, or why it was skipped. */
export async function kaggleHeldOut(loaded: LoadedGalaxyModel, datasets: string[], testIds: string[], samples = 5): Promise<KaggleResult> {
  if (!datasets.includes(KAGGLE_DATASET)) return { skipped: `the model's config.json does not list ${KAGGLE_DATASET} among its training datasets` };
  if (!loaded.config.schemas.includes('gz2')) return { skipped: 'the model has no gz2 output to turn into Kaggle columns' };
  const kaggle = loadKaggleModule();
  if (typeof kaggle === 'string') return { skipped: kaggle };
  const catalog = openDatasetCatalog(KAGGLE_DATASET);
  const prefix = `${KAGGLE_DATASET}:`;
  const held = new Set(testIds.filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length)));
  const rows = catalog.rows.filter((r) => held.has(r[catalog.idCol]!));
  if (rows.length === 0) return { skipped: `the model's split.json test list has no ${KAGGLE_DATASET} galaxies` };
  const columns = catalog.columns.filter((c) => /^Class\d+\.\d+$/.test(c));
  const predicted = await predictFiles(loaded, rows.map((r) => catalog.imagePath(r)), 'gz2', { samples });
  const answers = loaded.space.indicesOf('gz2').map((c) => loaded.space.answers[c]!.answer);
  return { galaxies: rows.length, columns, rmse: score(kaggle, rows, predicted.mean, answers, columns) };
}

/** The seam with src/schemas/kaggle.ts. */
function score(kaggle: KaggleModule, rows: Record<string, string>[], mean: Float32Array, answers: string[], columns: string[]): number {
  const truth = rows.map((r) => Object.fromEntries(columns.map((c) => [c, Number(r[c])])));
  const predicted = rows.map((_, i) => kaggle.toKaggleCumulative(Object.fromEntries(answers.map((a, j) => [a, mean[i * answers.length + j]!]))));
  const rmse = kaggle.kaggleRmse(truth, predicted, columns);
  if (!Number.isFinite(rmse)) throw new Error(`galmorph: kaggleRmse returned ${rmse} for ${rows.length} galaxies`);
  return rmse;
}
