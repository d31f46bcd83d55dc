/**
 * Personalised anomaly detection (`gm.anomaly`): a Gaussian process on the representation learns
 * what one researcher finds interesting, expected improvement picks what to show next; baselines
 * and a simulated researcher measure it.
 */
export { PersonalisedAnomalyFinder, PRIOR_SOURCES, reduceForAnomalies } from './personalised';
export type { AnomalyFinderOptions, PriorSource, RankedGalaxy, RankingOptions } from './personalised';
export { AnomalySession } from './session';
export type { AnomalySessionOptions, Ranking, ScoreSet } from './session';
export { readLabels, LabelStore, MIN_SCORE, MAX_SCORE } from './labels';
export { simulatePersonalised, unsupervisedBaselines } from './simulate';
export type { AnomalyRow, ResearcherTask, SimulationOptions } from './simulate';
export { GaussianProcessRegressor, rationalQuadratic } from './gaussian-process';
export { expectedImprovement } from './acquisition';
export { IsolationForest } from './isolation-forest';
export { localOutlierFactor } from './local-outlier-factor';
export { rankingMetrics, rankingAveragePrecision, precisionAt, RANKING_METRICS } from './metrics';
