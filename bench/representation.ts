/**
 * `npm run bench:representation -- --model DIR`: how good a galaxy model's frozen representation
 * is, in one command of a few minutes on a 2-core CPU, beside ImageNet and random-initialisation
 * starts scored the same way. Writes bench/results/representation-<folder>.json and prints a table.
 *   --model DIR         a `galmorph train` folder (default: the committed encoder, models/galmorph-honest)
 *   --out FILE.json     another output file
 *   --starts A,B,…      default galmorph,imagenet-mobilenetv2,scratch: `galmorph` is the --model
 *                       folder, `scratch` its architecture randomly initialised (seed 0) and frozen,
 *                       anything else an encoder id (src/encoders/registry.ts)
 *   --features FILE     also score features computed elsewhere (repeatable): a CSV with `id` and one
 *                       column per feature, or a `galmorph embed` Parquet/Arrow file, holding every
 *                       decals-rings-470 galaxy (e.g. bench/torch_reference_encoder.py's, or Zoobot's)
 *   --repeats N         training sets per label count (default 10); --counts 13,79 the label counts
 * Parts:
 *   rings        decals-rings-470, the fixed balanced test set of notebook 04 (47 rings + 47
 *                non-rings, balancedSplit seed 0), training sets of n rings + n non-rings from the
 *                rest (trainingIndices); the same head and tuning for every start: frozen features,
 *                standardised, logistic regression with C chosen by stratified 5-fold
 *                cross-validation inside each training set (src/finetune/logistic.ts); test accuracy
 *                and ROC AUC, mean ± std over the repeats, and the C each repeat chose.
 *   similarity   ring precision@7: each ring queries the 470, cosine on 10 PCA components of the
 *                standardised features (notebook 02's evaluateTag).
 *   gz2          the model's GZ2 test split: MAE per answer and its mean, beside the training-mean
 *                baseline (the model card's evaluateOnGz2Test); only for models with a gz2 output.
 *   kaggle       the competition's RMSE on the held-out Kaggle galaxies (src/models/kaggle-rmse.ts; optional).
 * Features are cached in out/embeddings under names that hold the encoder, input size and a hash of
 * the weights (fingerprintedEmbeddings): the first run encodes (ImageNet at 224 px is the slow part),
 * later runs read them. Progress goes to stderr.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../src/backend/select';
import { Embeddings, readFeatures } from '../src/data/embeddings';
import { openDatasetCatalog } from '../src/data/manifests';
import { Encoder, galaxyModelEncoder, loadEncoder, scratchEncoder } from '../src/encoders/registry';
import { balancedSplit, curveProgress, probeCurve, ProbeRecord, summariseCurve } from '../src/finetune/experiment';
import { LOGISTIC_DEFAULTS } from '../src/finetune/logistic';
import type { AnswerMetric } from '../src/models/evaluate';
import { LoadedGalaxyModel } from '../src/models/galaxy-model';
import { defaultEncoderDir, loadGalaxyModel } from '../src/models/load';
import { fingerprintedEmbeddings } from '../src/representations/cache';
import { evaluateTag } from '../src/similarity/evaluate';
import { evaluateOnGz2Test, readSplit } from '../src/training/model-card';
import { kaggleHeldOut } from '../src/models/kaggle-rmse';

const RINGS = 'decals-rings-470';
const TEST_PER_CLASS = 47;
const SPLIT_SEED = 0;
const SEARCH = { pca: 10, scale: true, maxK: 10, metric: 'cosine' } as const;
const GZ2_SAMPLES = 5;

const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(1));
const round = (x: number) => Number(x.toFixed(4));

function positiveIntegers(value: string, flag: string): number[] {
  const v = value.split(',').map(Number);
  if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`galmorph: ${flag} takes positive integers separated by commas, got '${value}'`);
  return v;
}

/** A start by name: the model folder's encoder (given), its architecture at random, or a registry encoder. */
async function loadStart(name: string, loaded: LoadedGalaxyModel, galmorph: Encoder): Promise<Encoder> {
  if (name === 'galmorph') return galmorph;
  if (name === 'scratch') return scratchEncoder(loaded.config.arch, { seed: 0, size: loaded.config.size, channels: loaded.config.channels });
  return loadEncoder(name);
}

type Gz2Result = { galaxies: number; mean_mae: number; mean_baseline_mae: number; answers: Omit<AnswerMetric, 'question'>[] } | { skipped: string };

interface StartResult {
  start: string;
  encoder: string;
  dim: number;
  features: { file: string; cached: boolean };
  rings: Record<string, { accuracy: { mean: number; std: number }; auc: { mean: number; std: number }; repeats: number; c: number[] }>;
  similarity: { precision_at_7: number; map: number; queries: number };
  wall_s: { features: number; probe: number; similarity: number };
}

/** The rows of `features` in the catalogue's order; a galaxy the file lacks is an error naming it. */
function alignedFeatures(features: Embeddings, ids: string[], file: string): Embeddings {
  const row = new Map(features.ids.map((id, i) => [id, i]));
  const vectors = new Float32Array(ids.length * features.dim);
  ids.forEach((id, i) => {
    const r = row.get(id);
    if (r === undefined) throw new Error(`galmorph: --features ${file} has no row for ${RINGS} galaxy '${id}' (it holds ${features.ids.length} ids, e.g. '${features.ids[0]}')`);
    vectors.set(features.vectors.subarray(r * features.dim, (r + 1) * features.dim), i * features.dim);
  });
  return { ids, vectors, dim: features.dim };
}

/** Mean ± std per label count, and the C of each repeat. */
function ringSummary(records: ProbeRecord[]): StartResult['rings'] {
  const table = summariseCurve(records);
  const out: StartResult['rings'] = {};
  for (const n of [...new Set(records.map((r) => r.n))]) {
    const stat = (metric: string) => {
      const row = table.find((r) => r.n_rings === n && r.metric === metric)!;
      return { mean: round(Number(row.mean)), std: round(Number(row.std)) };
    };
    const runs = records.filter((r) => r.n === n);
    out[String(n)] = { accuracy: stat('accuracy'), auc: stat('auc'), repeats: runs.length, c: runs.map((r) => Number(r.c.toPrecision(3))) };
  }
  return out;
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: defaultEncoderDir() },
      out: { type: 'string' },
      starts: { type: 'string', default: 'galmorph,imagenet-mobilenetv2,scratch' },
      repeats: { type: 'string', default: '10' },
      counts: { type: 'string', default: '13,79' },
      features: { type: 'string', multiple: true, default: [] },
    },
  });
  const t0 = performance.now();
  const modelDir = path.resolve(values.model);
  const configFile = path.join(modelDir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`galmorph: --model ${values.model} is not a galmorph model folder (no config.json in ${modelDir})`);
  const out = path.resolve(values.out ?? path.join(__dirname, 'results', `representation-${path.basename(modelDir)}.json`));
  const starts = values.starts.split(',').filter(Boolean);
  const [repeats] = positiveIntegers(values.repeats, '--repeats');
  const counts = positiveIntegers(values.counts, '--counts');

  const choice = await initBackend();
  log(describeBackend(choice));
  const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { datasets?: { id: string }[] };
  const loaded = await loadGalaxyModel(modelDir);
  // The galmorph start owns the loaded model: disposing it frees both.
  const galmorph = galaxyModelEncoder(loaded);
  const split = readSplit(modelDir);
  const wall: Record<string, number> = {};
  try {
    let t = performance.now();
    let gz2: Gz2Result;
    if (loaded.config.schemas.includes('gz2')) {
      log(`gz2: predicting the model's GZ2 test galaxies (${GZ2_SAMPLES} dropout samples)`);
      const { evaluation } = await evaluateOnGz2Test(loaded, split, GZ2_SAMPLES);
      gz2 = {
        galaxies: evaluation.galaxies,
        mean_mae: round(evaluation.mean_mae),
        mean_baseline_mae: round(evaluation.mean_baseline_mae),
        answers: evaluation.answers.map((a) => ({ answer: a.answer, n: a.n, mae: round(a.mae), baseline_mae: round(a.baseline_mae), mean_predicted: round(a.mean_predicted), mean_volunteers: round(a.mean_volunteers) })),
      };
    } else gz2 = { skipped: `the model has no gz2 output (schemas: ${loaded.config.schemas.join(', ')})` };
    wall.gz2 = seconds(t);

    t = performance.now();
    const kaggle = await kaggleHeldOut(loaded, (config.datasets ?? []).map((d) => d.id), split.test, GZ2_SAMPLES);
    if ('skipped' in kaggle) log(`kaggle: skipped: ${kaggle.skipped}`);
    wall.kaggle = seconds(t);

    const rings = openDatasetCatalog(RINGS);
    const labels = rings.column('ring').map((v) => (v === '1' ? 1 : 0));
    const ringSplit = balancedSplit(labels, TEST_PER_CLASS, SPLIT_SEED);
    const ringIds = new Set(rings.ids().filter((_, i) => labels[i] === 1));
    const results: StartResult[] = [];
    const scoreStart = (name: string, description: string, embeddings: Embeddings, features: StartResult['features'], featuresS: number) => {
      let t = performance.now();
      const progress = curveProgress(log);
      const records = probeCurve(embeddings, labels, ringSplit, { start: name, counts, repeats, onRun: progress });
      const probeS = seconds(t);
      t = performance.now();
      const sim = evaluateTag(embeddings, ringIds, SEARCH);
      results.push({
        start: name,
        encoder: description,
        dim: embeddings.dim,
        features,
        rings: ringSummary(records),
        similarity: { precision_at_7: round(sim.precision[6]!), map: round(sim.map), queries: sim.queries },
        wall_s: { features: featuresS, probe: probeS, similarity: seconds(t) },
      });
      log(`${name}: ring P@7 ${sim.precision[6]!.toFixed(3)}`);
    };
    for (const name of starts) {
      const encoder = await loadStart(name, loaded, galmorph);
      try {
        t = performance.now();
        log(`${name}: features of ${rings.length} galaxies (${encoder.description})`);
        const { embeddings, file, cached } = await fingerprintedEmbeddings(RINGS, encoder);
        const featuresS = seconds(t);
        log(`${name}: ${cached ? 'read from' : 'encoded into'} ${path.relative(process.cwd(), file)} (${featuresS} s)`);
        scoreStart(name, encoder.description, embeddings, { file: path.relative(process.cwd(), file), cached }, featuresS);
      } finally {
        if (encoder !== galmorph) encoder.dispose();
      }
    }
    for (const file of values.features) {
      t = performance.now();
      const embeddings = alignedFeatures(readFeatures(file), rings.ids(), file);
      scoreStart(`features:${path.basename(file)}`, `features read from ${file} (${embeddings.dim}-d)`, embeddings, { file: path.relative(process.cwd(), path.resolve(file)), cached: true }, seconds(t));
    }
    wall.total = seconds(t0);

    const result = {
      benchmark: 'representation',
      model: path.relative(process.cwd(), modelDir) || '.',
      config_sha256: sha(configFile),
      weights_sha256: sha(path.join(modelDir, 'model', 'weights.bin')),
      backend: describeBackend(choice),
      machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, node ${process.version}`,
      date: new Date().toISOString(),
      protocol: {
        rings: `${RINGS}: test ${TEST_PER_CLASS} rings + ${TEST_PER_CLASS} non-rings (balancedSplit seed ${SPLIT_SEED}, notebook 04's); training sets of n rings + n non-rings from the rest, ${repeats} repeats (trainingIndices seed ${SPLIT_SEED})`,
        head: 'frozen features → standardised on the training set → L2 logistic regression (Newton), C chosen by stratified k-fold cross-validation (held-out log-loss) inside each training set only',
        c_grid: LOGISTIC_DEFAULTS.grid.map((c) => Number(c.toPrecision(3))),
        folds: LOGISTIC_DEFAULTS.folds,
        similarity: `each ring galaxy queries the other ${rings.length - 1}: ${SEARCH.metric} on ${SEARCH.pca} PCA components of standardised features (fitted on all ${rings.length}, no labels); precision of the 7 nearest`,
        gz2: `the model's split.json test galaxies of gz2-hart16-1000, ${GZ2_SAMPLES} MC-dropout samples; baseline = training-split mean fraction`,
        note: "the galmorph start's pretraining saw these galaxies' images and three GZ DECaLS vote fractions, never the ring labels",
      },
      wall_s: wall,
      starts: results,
      gz2,
      kaggle,
    };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');

    const cell = (s: { mean: number; std: number } | undefined) => (s ? `${s.mean.toFixed(3)} ± ${s.std.toFixed(3)}` : 'n/a');
    console.log(`\n${result.model} (config ${result.config_sha256.slice(0, 12)}), ${wall.total} s\n`);
    console.log(`| start | ${counts.map((n) => `acc @ ${n} | AUC @ ${n}`).join(' | ')} | ring P@7 |`);
    console.log(`| --- | ${counts.map(() => '--- | ---').join(' | ')} | --- |`);
    for (const r of results) {
      console.log(`| ${r.start} | ${counts.map((n) => `${cell(r.rings[String(n)]?.accuracy)} | ${cell(r.rings[String(n)]?.auc)}`).join(' | ')} | ${r.similarity.precision_at_7.toFixed(3)} |`);
    }
    console.log(`\nGZ2 test MAE: ${'skipped' in gz2 ? `skipped: ${gz2.skipped}` : `${gz2.mean_mae.toFixed(4)} (training-mean baseline ${gz2.mean_baseline_mae.toFixed(4)}, ${gz2.galaxies} galaxies)`}`);
    console.log(`Kaggle RMSE: ${'skipped' in kaggle ? `skipped: ${kaggle.skipped}` : `${kaggle.rmse.toFixed(4)} (${kaggle.galaxies} galaxies, ${kaggle.columns.length} columns)`}`);
    console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
  } finally {
    galmorph.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
