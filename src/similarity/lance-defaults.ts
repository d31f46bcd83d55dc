/**
 * Query defaults of the LanceDB search (src/similarity/lance.ts), in a module of their own so that
 * the CLI's option definitions can show them without loading LanceDB (it loads only with --lance).
 */

/** IVF partitions probed per query. */
export const DEFAULT_NPROBES = 20;

/**
 * IVF-PQ re-ranks 20 × k candidates by their stored vectors: at 100,000 clustered 256-d vectors
 * recall@10 was 0.63 with 5 and 1.0 with 20, for 2 ms more per query (docs/scale.md).
 */
export const DEFAULT_REFINE_FACTOR = 20;

/** Index and metadata cache of a query process, each, in MiB (LanceDB's defaults: 6 GiB and 1 GiB). */
export const DEFAULT_CACHE_MIB = 64;
