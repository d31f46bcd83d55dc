/**
 * The paper's ring experiment (Walmsley et al. 2022, section 6) as a learning curve: a fixed,
 * balanced, seeded test set; training sets of n positives plus n negatives drawn from the rest
 * (for one repeat the sets are nested: the first n of one shuffled pool per class); every starting
 * point and depth fine-tuned on each, repeated; accuracy and ROC AUC on the test set.
 *   depth 'head'   frozen encoder, features cached once per dataset and start; for scratch starts
 *                  these are the features of one fixed random network (seed 0)
 *   depth 'top-N'  the top N encoder blocks fine-tuned with the head, on images
 *   depth 'all'    every layer trained on the few labels (for scratch starts: training from scratch,
 *                  a fresh random initialisation for each repeat)
 * A frozen run with `head: 'logistic-cv'` (and probeCurve, on features already computed) fits the
 * representation benchmark's head instead of training one: L2 logistic regression with C chosen by
 * cross-validation inside each training set (logistic.ts), the same tuning for every start.
 */
import * as fs from 'node:fs';
import { Catalog } from '../data/catalog';
import { seededRng, shuffle } from '../data/augment';
import { Embeddings, selectRows } from '../data/embeddings';
import { Encoder, embeddingCachePath, loadEncoder } from '../encoders/registry';
import { predictionColumn } from '../models/finetuned-model';
import { cachedEmbeddings } from '../representations/cache';
import { TableRow } from '../report/tables';
import { binaryTargets, selectTargets } from './labels';
import { binaryAccuracy, rocAuc } from './metrics';
import { summarise } from '../report/summary';
import { finetune, FinetuneOptions } from './train';
import { CvOptions, CvResult, fitLinearProbe, probeScores } from './logistic';
import { abortSignal, ProgressListener, track } from '../progress';

export type Depth = 'head' | 'all' | `top-${number}`;

/** Blocks to unfreeze for a depth label. */
export function depthBlocks(depth: Depth): number | 'all' {
  if (depth === 'head') return 0;
  if (depth === 'all') return 'all';
  const m = /^top-(\d+)$/.exec(depth);
  if (!m || Number(m[1]) < 1) throw new Error(`galmorph: unknown depth '${depth}'. Valid: head, top-<N> (N >= 1), all`);
  return Number(m[1]);
}

export interface BalancedSplit {
  /** Test indices (catalogue rows), positives then negatives. */
  test: number[];
  /** The rest, per class, in one seeded shuffled order. */
  pool: { positive: number[]; negative: number[] };
}

/** `perClass` positives and `perClass` negatives for testing (seeded), the rest for training. */
export function balancedSplit(labels: ArrayLike<number>, perClass: number, seed = 0): BalancedSplit {
  const rng = seededRng(seed * 104729 + 1);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i]! > 0.5 ? pos : neg).push(i);
  if (pos.length <= perClass || neg.length <= perClass) {
    throw new Error(`galmorph: cannot hold out ${perClass} of each class for testing: there are ${pos.length} positives and ${neg.length} negatives`);
  }
  shuffle(pos, rng);
  shuffle(neg, rng);
  return { test: [...pos.slice(0, perClass), ...neg.slice(0, perClass)], pool: { positive: pos.slice(perClass), negative: neg.slice(perClass) } };
}

/** n positives and n negatives for one repeat: the first n of each pool shuffled by the repeat's seed. */
export function trainingIndices(split: BalancedSplit, n: number, repeat: number, seed = 0): number[] {
  const max = Math.min(split.pool.positive.length, split.pool.negative.length);
  if (n > max) throw new Error(`galmorph: ${n} of each class asked for, the training pool has ${max}`);
  const rng = seededRng(seed * 7907 + repeat * 31 + 5);
  return [...shuffle([...split.pool.positive], rng).slice(0, n), ...shuffle([...split.pool.negative], rng).slice(0, n)];
}

export interface CurveRun {
  start: string;
  depth: Depth;
  /** What the records call this run's depth (e.g. 'head-mlp' for a frozen run with the MLP head). Default: depth. */
  label?: string;
  /** Label counts (positives per training set); default: the experiment's. */
  counts?: (number | 'max')[];
  repeats?: number;
  /** Overrides of the experiment's fine-tuning options for this run. */
  options?: FinetuneOptions;
  /**
   * 'logistic-cv': with depth 'head' only, the frozen features go to the benchmark's head (L2
   * logistic regression, C by stratified cross-validation inside the training set) instead of a
   * trained network head; `options` are then unused. Default: the network head of `options`.
   */
  head?: 'logistic-cv';
  /** The cross-validation of a 'logistic-cv' head (grid, folds, seed). Default LOGISTIC_DEFAULTS. */
  cv?: CvOptions;
}

export interface LearningCurveOptions {
  catalog: Catalog;
  /** Names the feature cache files. */
  dataset: string;
  labelCol?: string;
  /** Value of the label column that marks a positive. Default '1'. */
  positive?: string;
  /** Default 47 (the calibration notes' 94 test galaxies). */
  testPerClass?: number;
  seed?: number;
  counts?: (number | 'max')[];
  repeats?: number;
  runs: CurveRun[];
  finetune?: FinetuneOptions;
  /** Where frozen features are cached (Parquet). */
  cacheDir: string;
  /** Before each fine-tuning (for progress bars). */
  onStart?: (label: string, total: number) => void;
  onRun?: (record: RunRecord, done: number, total: number) => void;
  log?: (line: string) => void;
  /**
   * Checked between runs (and by each fine-tuning between epochs): an aborted signal stops the
   * curve with an InterruptedError saying how many runs were finished. Default: the ambient signal
   * (the notebook kernel's Interrupt, src/progress.ts).
   */
  signal?: AbortSignal;
  /** Progress events, one per run ('learning curve', runs). Default: the ambient listener. */
  progress?: ProgressListener;
}

export interface RunRecord {
  start: string;
  /** The run's depth, or its label. */
  depth: string;
  n: number;
  repeat: number;
  accuracy: number;
  auc: number;
  /** Epochs the head trained (0 for a 'logistic-cv' head, which is solved, not trained by epochs). */
  epochs: number;
  seconds: number;
  /** Test probabilities of the positive class, in `testIds` order. */
  scores: Float32Array;
  /** The C that cross-validation chose, for a 'logistic-cv' head. */
  c?: number;
}

export interface LearningCurve {
  records: RunRecord[];
  testIds: string[];
  /** 1 for positives, 0 for negatives, aligned with testIds. */
  testLabels: number[];
  split: BalancedSplit;
}

/** Runs the learning-curve experiment. */
export async function learningCurve(options: LearningCurveOptions): Promise<LearningCurve> {
  const log = options.log ?? (() => undefined);
  const { catalog } = options;
  const col = options.labelCol ?? 'ring';
  const positive = options.positive ?? '1';
  const values = catalog.column(col);
  const classes = [...new Set(values)];
  if (!classes.includes(positive)) throw new Error(`galmorph: ${catalog.file}, column '${col}' has no value '${positive}' (found: ${classes.slice(0, 10).join(', ')})`);
  const negative = classes.filter((c) => c !== positive);
  // Binary targets: everything that is not the positive value is a negative.
  const binary = values.map((v) => (v === positive ? 1 : 0));
  const targets = binaryTargets(catalog.ids(), binary, [negative.length === 1 ? negative[0]! : `not ${positive}`, positive], col);
  const split = balancedSplit(binary, options.testPerClass ?? 47, options.seed ?? 0);
  const files = catalog.rows.map((r) => catalog.imagePath(r));
  const max = Math.min(split.pool.positive.length, split.pool.negative.length);
  const testLabels = split.test.map((i) => binary[i]!);
  const testIds = split.test.map((i) => targets.ids[i]!);

  for (const run of options.runs) {
    const name = `galmorph: run ${run.start} ${run.label ?? run.depth}: head '${run.head}' is not available`;
    if (run.head !== undefined && run.head !== 'logistic-cv') throw new Error(`${name} (the only run head is 'logistic-cv')`);
    if (run.head === 'logistic-cv' && run.depth !== 'head') throw new Error(`${name} at depth '${run.depth}' (the cross-validated logistic head fits frozen features: depth 'head')`);
  }
  const plan = options.runs.flatMap((run) => {
    const counts = (run.counts ?? options.counts ?? [2, 5, 13, 33, 79, 'max']).map((c) => (c === 'max' ? max : Math.min(c, max)));
    const repeats = run.repeats ?? options.repeats ?? 5;
    return [...new Set(counts)].flatMap((n) => Array.from({ length: repeats }, (_, repeat) => ({ run, n, repeat })));
  });
  const records: RunRecord[] = [];
  const startCache = new Map<string, Encoder>();
  const featureMemo = new Map<string, Embeddings>();
  const signal = abortSignal(options.signal);
  const featuresOf = async (start: Encoder): Promise<Embeddings> => {
    const file = embeddingCachePath(options.dataset, start, options.cacheDir);
    if (!featureMemo.has(file)) {
      featureMemo.set(
        file,
        await cachedEmbeddings(start, catalog, file, {
          onProgress: (d, t) => (d === t ? log(`${start.id}: features of ${t} galaxies ready`) : undefined),
          label: `features (${start.id})`,
          ...(signal ? { signal } : {}),
        }),
      );
    }
    return featureMemo.get(file)!;
  };
  const getStart = async (id: string, seed = 0): Promise<Encoder> => {
    const key = `${id}#${seed}`;
    if (!startCache.has(key)) startCache.set(key, await loadEncoder(id, { seed }));
    return startCache.get(key)!;
  };
  const tracker = track('learning curve', 'runs', { ...(options.progress ? { progress: options.progress } : {}), ...(signal ? { signal } : {}) });
  tracker.report(0, plan.length);
  try {
    for (const [k, { run, n, repeat }] of plan.entries()) {
      tracker.check(k, plan.length);
      const blocks = depthBlocks(run.depth);
      const fresh = blocks === 'all' && run.start.startsWith('scratch-');
      // Training from scratch: a new random network per repeat.
      const start = await getStart(run.start, fresh ? repeat : 0);
      options.onStart?.(`${run.start} ${run.label ?? run.depth} n=${n} #${repeat + 1}`, plan.length);
      const train = trainingIndices(split, n, repeat, options.seed ?? 0);
      const t0 = Date.now();
      let scores: Float32Array;
      let epochs: number;
      let c: number | undefined;
      const ftOptions: FinetuneOptions = { ...options.finetune, ...run.options, unfreezeBlocks: blocks, seed: repeat, ...(signal ? { signal } : {}) };
      if (run.head === 'logistic-cv') {
        const features = await featuresOf(start);
        const probe = fitLinearProbe(selectRows(features, train), features.dim, train.map((i) => binary[i]!), run.cv);
        scores = Float32Array.from(probeScores(probe, selectRows(features, split.test)));
        epochs = 0;
        c = probe.cv.c;
      } else if (blocks === 0) {
        const features = await featuresOf(start);
        const model = await finetune(start, selectTargets(targets, train), { features: selectRows(features, train) }, ftOptions);
        scores = predictionColumn(await model.predictFeatures(selectRows(features, split.test)), `p_${positive}`);
        epochs = model.config.training.epochsRun;
        model.dispose();
      } else {
        // Frozen features, when already computed, only set the head's standardisation.
        const cacheFile = embeddingCachePath(options.dataset, start, options.cacheDir);
        const cached = blocks !== 'all' && (featureMemo.has(cacheFile) || fs.existsSync(cacheFile)) ? await featuresOf(start) : undefined;
        const input = { files: train.map((i) => files[i]!), ...(cached ? { features: selectRows(cached, train) } : {}) };
        const model = await finetune(start, selectTargets(targets, train), input, ftOptions);
        scores = predictionColumn(await model.predictFiles(split.test.map((i) => files[i]!)), `p_${positive}`);
        epochs = model.config.training.epochsRun;
        model.dispose();
      }
      if (fresh) {
        start.dispose();
        startCache.delete(`${run.start}#${repeat}`);
      }
      const record: RunRecord = {
        start: run.start,
        depth: run.label ?? run.depth,
        n,
        repeat,
        accuracy: binaryAccuracy(testLabels, scores),
        auc: rocAuc(testLabels, scores),
        epochs,
        seconds: (Date.now() - t0) / 1000,
        scores,
        ...(c !== undefined ? { c } : {}),
      };
      records.push(record);
      options.onRun?.(record, k + 1, plan.length);
      tracker.report(k + 1, plan.length, `${record.start} ${record.depth} n=${n}: accuracy ${record.accuracy.toFixed(2)}`);
    }
  } finally {
    for (const s of startCache.values()) s.dispose();
  }
  return { records, testIds, testLabels, split };
}

/** What a summary or a progress line needs of a run: fine-tuned (RunRecord) or a linear probe (ProbeRecord). */
export type CurvePoint = Pick<RunRecord, 'start' | 'depth' | 'n' | 'repeat' | 'accuracy' | 'auc' | 'seconds'>;

export interface ProbeRecord extends CurvePoint {
  /** The C that cross-validation inside this training set chose, and its held-out log-loss there. */
  c: number;
  cv: CvResult;
  /** Test probabilities of the positive class, in `split.test` order. */
  scores: Float64Array;
}

export interface ProbeCurveOptions {
  /** Names the records' start. */
  start: string;
  /** Positives per training set (as many negatives). Default [13, 79]. */
  counts?: number[];
  /** Default 10. */
  repeats?: number;
  /** Seeds the training sets, as learningCurve's seed. Default 0. */
  seed?: number;
  cv?: CvOptions;
  onRun?: (record: ProbeRecord, done: number, total: number) => void;
}

/**
 * The learning curve with the benchmark's linear head on frozen features (one row per catalogue
 * row): for each training set of the split, standardisation, C chosen by cross-validation and the
 * fit see only the training rows (fitLinearProbe); the test rows' labels are read only to score.
 */
export function probeCurve(features: Embeddings, labels: ArrayLike<number>, split: BalancedSplit, options: ProbeCurveOptions): ProbeRecord[] {
  if (labels.length !== features.ids.length) throw new Error(`galmorph: ${features.ids.length} feature rows but ${labels.length} labels`);
  const testX = selectRows(features, split.test);
  const testLabels = split.test.map((i) => labels[i]!);
  const plan = (options.counts ?? [13, 79]).flatMap((n) => Array.from({ length: options.repeats ?? 10 }, (_, repeat) => ({ n, repeat })));
  return plan.map(({ n, repeat }, k) => {
    const t0 = performance.now();
    const train = trainingIndices(split, n, repeat, options.seed ?? 0);
    const probe = fitLinearProbe(selectRows(features, train), features.dim, train.map((i) => labels[i]!), options.cv);
    const scores = probeScores(probe, testX);
    const record: ProbeRecord = {
      start: options.start,
      depth: 'head-logistic-cv',
      n,
      repeat,
      accuracy: binaryAccuracy(testLabels, scores),
      auc: rocAuc(testLabels, scores),
      seconds: (performance.now() - t0) / 1000,
      c: probe.cv.c,
      cv: probe.cv,
      scores,
    };
    options.onRun?.(record, k + 1, plan.length);
    return record;
  });
}

/** Mean and std over repeats: rows of (start, depth, n_rings, metric, mean, std, repeats). */
export function summariseCurve(records: CurvePoint[], countName = 'n_rings'): TableRow[] {
  const groups = new Map<string, CurvePoint[]>();
  for (const r of records) {
    const key = `${r.start}\u0000${r.depth}\u0000${r.n}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const rows: TableRow[] = [];
  for (const rs of groups.values()) {
    for (const metric of ['accuracy', 'auc'] as const) {
      const s = summarise(rs.map((r) => r[metric]));
      rows.push({ start: rs[0]!.start, depth: rs[0]!.depth, [countName]: rs[0]!.n, metric, mean: s.mean, std: s.std, repeats: rs.length });
    }
  }
  return rows;
}

/**
 * The test galaxies a group of runs gets most wrong: mean test probability over the runs, sorted
 * by its distance from the true label.
 */
export function mostWrong(curve: LearningCurve, filter: (r: RunRecord) => boolean, k = 12): { id: string; label: number; score: number }[] {
  const runs = curve.records.filter(filter);
  if (runs.length === 0) return [];
  const mean = curve.testIds.map((_, i) => runs.reduce((a, r) => a + r.scores[i]!, 0) / runs.length);
  return curve.testIds
    .map((id, i) => ({ id, label: curve.testLabels[i]!, score: mean[i]! }))
    .sort((a, b) => Math.abs(b.label - b.score) - Math.abs(a.label - a.score))
    .slice(0, k);
}

/**
 * An `onRun` callback that logs one line per finished group of repeats (runs of one start, depth
 * and label count come one after another).
 */
export function curveProgress(log: (line: string) => void): (r: CurvePoint, done: number, total: number) => void {
  let group: CurvePoint[] = [];
  const flush = (done: number, total: number) => {
    if (group.length === 0) return;
    const acc = summarise(group.map((g) => g.accuracy));
    const auc = summarise(group.map((g) => g.auc));
    const secs = group.reduce((a, g) => a + g.seconds, 0);
    const g = group[0]!;
    log(`${g.start} ${g.depth} n=${g.n}: accuracy ${acc.mean.toFixed(3)} ± ${acc.std.toFixed(3)}, AUC ${auc.mean.toFixed(3)} (${group.length} runs, ${secs.toFixed(0)} s) [${done}/${total}]`);
    group = [];
  };
  return (r, done, total) => {
    const g = group[0];
    if (g && (g.start !== r.start || g.depth !== r.depth || g.n !== r.n)) flush(done - 1, total);
    group.push(r);
    if (done === total) flush(done, total);
  };
}
