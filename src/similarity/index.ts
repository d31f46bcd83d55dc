/** Similarity search (`gm.similarity`): exact and approximate nearest neighbours, and how good they are. */
export { similar, exactSearch, METRICS } from './search';
export type { Metric, Neighbour, SearchOptions } from './search';
export { HnswIndex, APPROXIMATE_FROM, DEFAULT_EF } from './ann';
export type { HnswOptions, HnswQueryOptions } from './ann';
export { evaluateTag, evaluateRandom, project } from './evaluate';
export type { TagScore } from './evaluate';
