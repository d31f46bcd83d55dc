/** Ranking metrics for anomaly searches: how many of the researcher's positives come out on top. */
import { averagePrecision } from '../similarity/evaluate';

/** Fraction of the first n ranked galaxies that are positives. */
export function precisionAt(ranked: string[], positives: Set<string>, n: number): number {
  const top = ranked.slice(0, n);
  return top.length ? top.filter((id) => positives.has(id)).length / n : 0;
}

/** Fraction of all positives found among the first n ranked galaxies. */
export function recallAt(ranked: string[], positives: Set<string>, n: number): number {
  return positives.size ? ranked.slice(0, n).filter((id) => positives.has(id)).length / positives.size : 0;
}

/** Average precision of the whole ranking. */
export function rankingAveragePrecision(ranked: string[], positives: Set<string>): number {
  return averagePrecision(ranked.map((id) => positives.has(id)));
}

export const RANKING_METRICS = ['precision@10', 'precision@25', 'precision@50', 'precision@200', 'recall@50', 'recall@200', 'average_precision'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];

/** Every metric of RANKING_METRICS for one ranking. */
export function rankingMetrics(ranked: string[], positives: Set<string>): Record<RankingMetric, number> {
  return {
    'precision@10': precisionAt(ranked, positives, 10),
    'precision@25': precisionAt(ranked, positives, 25),
    'precision@50': precisionAt(ranked, positives, 50),
    'precision@200': precisionAt(ranked, positives, 200),
    'recall@50': recallAt(ranked, positives, 50),
    'recall@200': recallAt(ranked, positives, 200),
    average_precision: rankingAveragePrecision(ranked, positives),
  };
}
