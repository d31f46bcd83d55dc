/**
 * The Kaggle Galaxy Challenge's score (model cards, bench/representation.ts): RMSE between the competition's
 * cumulative vote columns of the held-out gz2-kaggle-5000 galaxies (the model's split.json test ids
 * from that dataset) and the model's GZ2 predictions turned into that format, over the columns the
 * catalogue has (17 of the 37).
 * Skipped (`{ skipped }`) for a model whose config.json does not list gz2-kaggle-5000.
 */
import { openDatasetCatalog } from '../data/manifests';
import type { LoadedGalaxyModel } from './galaxy-model';
import { predictFiles } from './predict';
import { GZ2 } from '../schemas/galaxy-zoo';
import { kaggleRmse, readKaggleCumulative, toKaggleCumulative } from '../schemas/kaggle';

export const KAGGLE_DATASET = 'gz2-kaggle-5000';

/**
 * The competition's published references (Dieleman, Willett & Dambre 2015, MNRAS 450, 1441): over
 * all 37 columns of Kaggle's private test set, so a guide to scale, not a like-for-like comparison.
 */
export const KAGGLE_REFERENCES = [
  { entry: 'Extra-Trees entry (competition benchmark)', rmse: 0.129 },
  { entry: 'winning convnet (Dieleman et al. 2015)', rmse: 0.075 },
] as const;

export type KaggleResult = { galaxies: number; columns: string[]; rmse: number } | { skipped: string };

/** RMSE of the model on its held-out Kaggle galaxies, or why it was skipped. */
export async function kaggleHeldOut(loaded: LoadedGalaxyModel, datasets: string[], testIds: string[], samples = 5): Promise<KaggleResult> {
  if (!datasets.includes(KAGGLE_DATASET)) return { skipped: `the model's config.json does not list ${KAGGLE_DATASET} among its training datasets` };
  if (!loaded.config.schemas.includes('gz2')) return { skipped: 'the model has no gz2 output to turn into Kaggle columns' };
  const catalog = openDatasetCatalog(KAGGLE_DATASET);
  const prefix = `${KAGGLE_DATASET}:`;
  const held = new Set(testIds.filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length)));
  const rows = catalog.rows.filter((r) => held.has(r[catalog.idCol]!));
  if (rows.length === 0) return { skipped: `the model's split.json test list has no ${KAGGLE_DATASET} galaxies` };
  const columns = catalog.columns.filter((c) => /^Class\d+\.\d+$/.test(c));
  const predicted = await predictFiles(loaded, rows.map((r) => catalog.imagePath(r)), 'gz2', { samples });
  // The model's gz2 outputs, reordered to the schema's answer order that toKaggleCumulative reads.
  const answers = loaded.space.indicesOf('gz2').map((c) => loaded.space.answers[c]!.answer);
  const keys = GZ2.answerKeys();
  const at = keys.map((k) => answers.indexOf(k));
  if (at.some((j) => j < 0)) throw new Error(`galmorph: the model's gz2 outputs lack ${keys.filter((_, i) => at[i]! < 0).join(', ')}`);
  const fractions = new Float64Array(rows.length * keys.length);
  for (let i = 0; i < rows.length; i++) at.forEach((j, k) => (fractions[i * keys.length + k] = predicted.mean[i * answers.length + j]!));
  const truth = readKaggleCumulative(catalog.subset(rows.map((r) => r[catalog.idCol]!))).values;
  return { galaxies: rows.length, columns, rmse: kaggleRmse(toKaggleCumulative(fractions), truth, columns) };
}
