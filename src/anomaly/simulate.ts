/**
 * The paper's simulated researcher: a task gives every galaxy the score the researcher would give
 * it, the finder asks for scores in batches, and rankings are measured at several label budgets,
 * over repeats with different random starts; beside them the unsupervised baselines.
 */
import { availableParallelism } from 'node:os';
import type { Embeddings } from '../data/embeddings';
import { seededRng } from '../data/augment';
import { summarise } from '../report/summary';
import { IsolationForest } from './isolation-forest';
import { localOutlierFactor } from './local-outlier-factor';
import { RANKING_METRICS, rankingMetrics, RankingMetric } from './metrics';
import { AnomalyFinderOptions, PersonalisedAnomalyFinder, reduceForAnomalies } from './personalised';
import { runInWorkers } from './simulate-pool';

export interface ResearcherTask {
  name: string;
  /** The score this researcher gives each galaxy (0-5), by id. */
  scores: Map<string, number>;
  /** The galaxies that count as found. */
  positives: Set<string>;
}

export interface SimulationOptions extends AnomalyFinderOptions {
  /** Label counts at which rankings are measured. Default [50, 100, 200]. */
  budgets?: number[];
  /** Repeats with different random starts. Default 10. */
  repeats?: number;
  /** Called after each repeat. */
  onProgress?: (done: number, total: number) => void;
  /** Threads the repeats run on. Default: one per core (os.availableParallelism()), at most one per repeat; 1 runs them here. */
  workers?: number;
}

/** One row of the anomaly table (out/tables/anomaly.csv). */
export interface AnomalyRow {
  task: string;
  method: string;
  n_labels: number;
  ranking: string;
  metric: RankingMetric;
  mean: number;
  std: number;
  repeats: number;
}

type Samples = Map<string, { task: string; method: string; n_labels: number; ranking: string; metric: RankingMetric; values: number[] }>;

function record(samples: Samples, key: Omit<AnomalyRow, 'mean' | 'std' | 'repeats' | 'metric'>, m: Record<RankingMetric, number>): void {
  for (const metric of RANKING_METRICS) {
    const k = `${key.method}|${key.n_labels}|${key.ranking}|${metric}`;
    const s = samples.get(k) ?? { ...key, metric, values: [] };
    s.values.push(m[metric]);
    samples.set(k, s);
  }
}

function summariseSamples(samples: Samples): AnomalyRow[] {
  return [...samples.values()].map(({ values, ...key }) => {
    const { mean, std } = summarise(values);
    return { ...key, mean, std, repeats: values.length };
  });
}

function checkTask(e: Embeddings, task: ResearcherTask): void {
  const missing = e.ids.filter((id) => !task.scores.has(id));
  if (missing.length) throw new Error(`galmorph: task '${task.name}' has no score for ${missing.length} embedded galaxies (first: '${missing[0]}')`);
  if (!task.positives.size) throw new Error(`galmorph: task '${task.name}' has no positives`);
}

/** One repeat's rankings, scored: what a worker sends back. */
export interface RepeatResult {
  repeat: number;
  rankings: { key: Omit<AnomalyRow, 'mean' | 'std' | 'repeats' | 'metric'>; metrics: Record<RankingMetric, number> }[];
}

/** What every repeat shares: plain data, so that it can be sent to a worker thread once. */
export interface SessionData {
  ids: string[];
  features: Float64Array;
  dim: number;
  task: ResearcherTask;
  options: Omit<SimulationOptions, 'onProgress' | 'workers'>;
}

/** One simulated session: the finder labels up to each budget and both rankings are scored there. */
export function runRepeat({ ids, features, dim, task, options }: SessionData, repeat: number): RepeatResult {
  const budgets = (options.budgets ?? [50, 100, 200]).slice().sort((a, b) => a - b);
  // With priorFrom 'isolation-forest' each repeat's forest has the seed of the baseline's.
  const finder = new PersonalisedAnomalyFinder(ids, features, dim, { ...options, seed: (options.seed ?? 0) + repeat });
  const method = options.prior ? 'gp-active+prior' : options.priorFrom === 'isolation-forest' ? 'gp-active+iforest' : 'gp-active';
  const rankings: RepeatResult['rankings'] = [];
  for (const budget of budgets) {
    while (finder.labelledCount < budget) {
      const batch = finder.next(Math.min(options.batchSize ?? 10, budget - finder.labelledCount));
      if (!batch.length) break;
      for (const id of batch) finder.label(id, task.scores.get(id)!);
    }
    for (const knownScores of [true, false]) {
      const ranked = finder.ranking({ knownScores }).map((g) => g.id);
      rankings.push({ key: { task: task.name, method, n_labels: finder.labelledCount, ranking: knownScores ? 'known-scores' : 'model-only' }, metrics: rankingMetrics(ranked, task.positives) });
    }
  }
  return { repeat, rankings };
}

/**
 * The personalised finder with a simulated researcher: one row per budget, ranking mode and metric.
 * Repeats are independent sessions, run on `workers` threads (default: one per core, at most one
 * per repeat); the rows are the same whatever the number of workers.
 */
export async function simulatePersonalised(e: Embeddings, task: ResearcherTask, options: SimulationOptions = {}): Promise<AnomalyRow[]> {
  checkTask(e, task);
  const repeats = options.repeats ?? 10;
  const { features, dim } = reduceForAnomalies(e, options.components);
  const { onProgress, workers: requested, ...rest } = options;
  if (requested !== undefined && !(Number.isInteger(requested) && requested >= 1)) throw new Error(`galmorph: workers must be a whole number from 1, got ${requested}`);
  const workers = Math.max(1, Math.min(repeats, requested ?? availableParallelism()));
  const data: SessionData = { ids: e.ids, features, dim, task, options: rest };
  const numbers = Array.from({ length: repeats }, (_, repeat) => repeat);
  let done = 0;
  const progress = () => onProgress?.(++done, repeats);
  const results =
    workers === 1
      ? numbers.map((repeat) => {
          const result = runRepeat(data, repeat);
          progress();
          return result;
        })
      : await runInWorkers(data, numbers, workers, progress);
  const samples: Samples = new Map();
  for (const { rankings } of results.sort((a, b) => a.repeat - b.repeat)) for (const { key, metrics } of rankings) record(samples, key, metrics);
  return summariseSamples(samples);
}

/** Isolation forest (one seed per repeat), local outlier factor and a random ranking, on the same PCA features. */
export function unsupervisedBaselines(e: Embeddings, task: ResearcherTask, options: { components?: number; repeats?: number; seed?: number } = {}): AnomalyRow[] {
  checkTask(e, task);
  const { features: x, dim } = reduceForAnomalies(e, options.components);
  const byScore = (s: Float64Array) => e.ids.map((id, i) => ({ id, s: s[i]! })).sort((a, b) => b.s - a.s).map((g) => g.id);
  const samples: Samples = new Map();
  const key = (method: string) => ({ task: task.name, method, n_labels: 0, ranking: 'unsupervised' });
  const repeats = options.repeats ?? 10;
  for (let r = 0; r < repeats; r++) {
    const seed = (options.seed ?? 0) + r;
    record(samples, key('isolation-forest'), rankingMetrics(byScore(IsolationForest.fit(x, dim, { seed }).score(x)), task.positives));
    const rng = seededRng(seed);
    record(samples, key('random'), rankingMetrics(byScore(Float64Array.from(e.ids, () => rng())), task.positives));
  }
  record(samples, key('local-outlier-factor'), rankingMetrics(byScore(localOutlierFactor(x, dim)), task.positives));
  return summariseSamples(samples);
}
