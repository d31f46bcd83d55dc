/**
 * Similarity search on disk with LanceDB (`@lancedb/lancedb`): `galmorph index --lance DIR` streams
 * an embeddings file (Parquet row groups, in batches) into a LanceDB table `embeddings` (columns
 * `id`, `vector` and, with a PCA, `pca`) and builds an ANN index on the column searched (IVF-PQ or
 * IVF_HNSW_SQ); `galmorph similar --lance DIR` answers from the table without loading the vectors
 * (LanceDB reads the index and the rows it needs), and `--index exact` scans the same table
 * exactly, for checking. The folder also holds `galmorph-lance.json` (metric, index, PCA, source)
 * and, with a PCA, `pca.json`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, makeData, makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm/node';
import { tableFromIPC } from 'apache-arrow';
import { Embeddings, fromTable, readEmbeddings } from '../data/embeddings';
import { readPca, RepresentationPca, writePca } from '../representations/pca';
import { DEFAULT_CACHE_MIB, DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR } from './lance-defaults';
import type { Metric, Neighbour } from './search';

export { DEFAULT_CACHE_MIB, DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR } from './lance-defaults';

export const LANCE_INDEX_KINDS = ['ivf-pq', 'ivf-hnsw-sq', 'none'] as const;
export type LanceIndexKind = (typeof LANCE_INDEX_KINDS)[number];
const TABLE = 'embeddings';
const META = 'galmorph-lance.json';

export interface LanceMeta {
  source: string;
  galaxies: number;
  dim: number;
  metric: Metric;
  /** The column searched: `vector`, or `pca` when a PCA was given. */
  column: 'vector' | 'pca';
  pcaComponents?: number;
  index: LanceIndexKind;
  indexOptions: Record<string, number>;
}

export interface LanceBuildOptions {
  metric?: Metric;
  /** Fit a PCA of this many components (streamed over the file), or reuse a fitted one; the table then holds and searches `pca`. */
  pca?: number | RepresentationPca;
  pcaScale?: boolean;
  index?: LanceIndexKind;
  /** IVF partitions. Default about sqrt(n), at least 1. */
  partitions?: number;
  /** IVF-PQ sub-vectors. Default dim/8 for 256 dimensions and more, else dim/2 (each must divide dim). */
  subVectors?: number;
  /** Rows written per batch. Default 65,536. */
  batchRows?: number;
  log?: (line: string) => void;
}

/** An embeddings file in batches of at most `rows`: Parquet row group by row group, Arrow whole then cut. */
export async function* embeddingBatches(file: string, rows = 65_536): AsyncGenerator<Embeddings> {
  const cut = function* (e: Embeddings): Generator<Embeddings> {
    for (let s = 0; s < e.ids.length; s += rows) {
      const end = Math.min(e.ids.length, s + rows);
      yield { ids: e.ids.slice(s, end), vectors: e.vectors.subarray(s * e.dim, end * e.dim), dim: e.dim };
    }
  };
  if (!file.endsWith('.parquet')) {
    yield* cut(readEmbeddings(file));
    return;
  }
  if (!fs.existsSync(file)) throw new Error(`galmorph: embeddings file not found: ${file}`);
  const pf = await ParquetFile.fromFile(await fs.openAsBlob(file));
  try {
    const groups = pf.metadata().numRowGroups();
    for (let g = 0; g < groups; g++) {
      const t = await pf.read({ rowGroups: [g] });
      yield* cut(fromTable(tableFromIPC(t.intoIPCStream()), file));
    }
  } finally {
    pf.free();
  }
}

function vectorColumn(values: Float32Array, n: number, dim: number) {
  const type = new FixedSizeList(dim, new Field('item', new Float32(), true));
  return makeVector(makeData({ type, length: n, nullCount: 0, child: makeData({ type: new Float32(), length: values.length, data: values }) }));
}

function arrowBatch(e: Embeddings, pca: RepresentationPca | undefined): Table {
  const n = e.ids.length;
  const id = vectorFromArray(e.ids, new Utf8());
  const vector = vectorColumn(Float32Array.from(e.vectors), n, e.dim);
  if (!pca) return new Table({ id, vector });
  const p = pca.project(e);
  return new Table({ id, vector, pca: vectorColumn(p.vectors, n, p.dim) });
}

function defaultSubVectors(dim: number): number {
  const want = dim >= 256 ? dim / 8 : dim / 2;
  for (let s = Math.max(1, Math.round(want)); s >= 1; s--) if (dim % s === 0) return s;
  return 1;
}

const distanceType = (metric: Metric): 'cosine' | 'l2' => (metric === 'cosine' ? 'cosine' : 'l2');

/** Builds DIR (replacing a table there) from an embeddings file; returns what galmorph-lance.json records. */
export async function buildLance(embeddingsFile: string, dir: string, options: LanceBuildOptions = {}): Promise<LanceMeta> {
  return buildLanceFrom(() => embeddingBatches(embeddingsFile, options.batchRows ?? 65_536), embeddingsFile, dir, options);
}

/**
 * Builds DIR from batches of embeddings (`batches()` is called once more for a PCA fit); `source`
 * names them in messages and galmorph-lance.json.
 */
export async function buildLanceFrom(batches: () => AsyncIterable<Embeddings> | Iterable<Embeddings>, source: string, dir: string, options: LanceBuildOptions = {}): Promise<LanceMeta> {
  const embeddingsFile = source;
  const log = options.log ?? (() => undefined);
  const metric = options.metric ?? 'cosine';
  let pca: RepresentationPca | undefined;
  if (typeof options.pca === 'number') {
    let acc: ReturnType<typeof RepresentationPca.incremental> | undefined;
    for await (const b of batches()) {
      acc ??= RepresentationPca.incremental(b.dim, { components: options.pca, scale: options.pcaScale ?? false });
      acc.partialFit(b.vectors);
    }
    if (!acc) throw new Error(`galmorph index: ${embeddingsFile} holds no galaxies`);
    pca = acc.finalize();
  } else pca = options.pca;
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, META), { force: true });
  const db = await lancedb.connect(dir);
  let table: lancedb.Table | undefined;
  let n = 0;
  let dim = 0;
  for await (const b of batches()) {
    if (pca && pca.dim !== b.dim) throw new Error(`galmorph index: the PCA projects vectors of length ${pca.dim}, but ${source} has vectors of length ${b.dim}`);
    const batch = arrowBatch(b, pca);
    if (!table) table = await db.createTable(TABLE, batch, { mode: 'overwrite' });
    else await table.add(batch);
    n += b.ids.length;
    dim = b.dim;
  }
  if (!table) throw new Error(`galmorph index: ${embeddingsFile} holds no galaxies`);
  const column = pca ? 'pca' : 'vector';
  const searchDim = pca ? pca.components : dim;
  const kind = options.index ?? 'ivf-pq';
  const indexOptions: Record<string, number> = {};
  if (kind !== 'none') {
    indexOptions.partitions = options.partitions ?? Math.max(1, Math.round(Math.sqrt(n)));
    if (kind === 'ivf-pq') {
      indexOptions.subVectors = options.subVectors ?? defaultSubVectors(searchDim);
      if (searchDim % indexOptions.subVectors !== 0) throw new Error(`galmorph index: --sub-vectors ${indexOptions.subVectors} must divide the ${searchDim} dimensions searched`);
    }
    const config =
      kind === 'ivf-pq'
        ? lancedb.Index.ivfPq({ distanceType: distanceType(metric), numPartitions: indexOptions.partitions, numSubVectors: indexOptions.subVectors })
        : lancedb.Index.hnswSq({ distanceType: distanceType(metric), numPartitions: indexOptions.partitions });
    await table.createIndex(column, { config, replace: true });
  }
  // Queries by galaxy id look the row up through a B-tree, not a scan of the id column.
  await table.createIndex('id', { config: lancedb.Index.btree(), replace: true });
  table.close();
  db.close();
  if (pca) writePca(path.join(dir, 'pca.json'), pca);
  const meta: LanceMeta = { source: fs.existsSync(embeddingsFile) ? path.resolve(embeddingsFile) : embeddingsFile, galaxies: n, dim, metric, column, ...(pca ? { pcaComponents: pca.components } : {}), index: kind, indexOptions };
  fs.writeFileSync(path.join(dir, META), JSON.stringify(meta, null, 2) + '\n');
  log(`LanceDB table of ${n} galaxies in ${dir} (${column}, ${searchDim} dimensions, ${metric}, index ${kind}${Object.keys(indexOptions).length ? ` ${JSON.stringify(indexOptions)}` : ''})`);
  return meta;
}

export interface LanceQueryOptions {
  k?: number;
  /** Exact scan of the table instead of its ANN index (for checking). */
  exact?: boolean;
  /** IVF partitions probed. Default DEFAULT_NPROBES. */
  nprobes?: number;
  /** Re-rank this many times k candidates by their full vectors (IVF-PQ). Default DEFAULT_REFINE_FACTOR. */
  refineFactor?: number;
  /** HNSW search breadth (IVF_HNSW_SQ). */
  ef?: number;
}

export interface LanceOpenOptions {
  /** Bound on LanceDB's index cache and on its metadata cache, each, in MiB; 'lancedb' for LanceDB's defaults. Default DEFAULT_CACHE_MIB. */
  cacheMiB?: number | 'lancedb';
}

/** A LanceDB table built by buildLance, opened for queries. */
export class LanceSearch {
  private constructor(
    readonly meta: LanceMeta,
    private readonly db: lancedb.Connection,
    private readonly table: lancedb.Table,
    private readonly session: lancedb.Session | undefined,
  ) {}

  /**
   * Opens DIR. LanceDB's own defaults let a process cache up to 6 GiB of index and 1 GiB of file
   * metadata; galmorph bounds both (`cacheMiB`, default 64 MiB each), so a query process stays small
   * whatever the table's size (docs/scale.md has the measurements). `cacheMiB: 'lancedb'` keeps
   * LanceDB's defaults.
   */
  static async open(dir: string, options: LanceOpenOptions = {}): Promise<LanceSearch> {
    const file = path.join(dir, META);
    if (!fs.existsSync(file)) throw new Error(`galmorph: ${dir} is not a galmorph LanceDB folder (no ${META}); build it with galmorph index --embeddings FILE --lance ${dir}`);
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as LanceMeta;
    const cache = options.cacheMiB ?? DEFAULT_CACHE_MIB;
    const bytes = cache === 'lancedb' ? undefined : BigInt(Math.round(cache * 2 ** 20));
    const session = bytes === undefined ? undefined : new lancedb.Session(bytes, bytes);
    const db = await lancedb.connect(dir, session ? { session } : {});
    return new LanceSearch(meta, db, await db.openTable(TABLE), session);
  }

  /** What LanceDB's index and metadata caches hold now, in MiB (undefined with LanceDB's default caches). */
  cachedMiB(): number | undefined {
    return this.session ? Number(this.session.sizeBytes()) / 2 ** 20 : undefined;
  }

  /** The stored PCA (when the table searches PCA components). */
  pca(dir: string): RepresentationPca | undefined {
    return this.meta.column === 'pca' ? readPca(path.join(dir, 'pca.json')) : undefined;
  }

  /** The searched vector of one galaxy, from the table. */
  async vectorOf(id: string): Promise<number[]> {
    const rows = await this.table.query().where(`id = '${id.replace(/'/g, "''")}'`).select([this.meta.column]).limit(1).toArray();
    if (rows.length === 0) throw new Error(`galmorph: galaxy '${id}' is not among the ${this.meta.galaxies} galaxies of this LanceDB table`);
    return Array.from(rows[0][this.meta.column] as ArrayLike<number>);
  }

  /** The k galaxies nearest to a vector (in the searched space); `exclude` is left out. */
  async search(vector: ArrayLike<number>, options: LanceQueryOptions = {}, exclude?: string): Promise<Neighbour[]> {
    const k = options.k ?? 10;
    let q = this.table.vectorSearch(Array.from(vector)).column(this.meta.column).distanceType(distanceType(this.meta.metric)).select(['id']).limit(k + (exclude === undefined ? 0 : 1));
    if (options.exact || this.meta.index === 'none') q = q.bypassVectorIndex();
    else {
      q = q.nprobes(options.nprobes ?? DEFAULT_NPROBES);
      if (this.meta.index === 'ivf-pq') q = q.refineFactor(options.refineFactor ?? DEFAULT_REFINE_FACTOR);
      if (options.ef !== undefined) q = q.ef(options.ef);
    }
    const rows = (await q.toArray()) as { id: string; _distance: number }[];
    const metric = this.meta.metric;
    return rows
      .filter((r) => r.id !== exclude)
      .slice(0, k)
      // LanceDB's l2 is the squared distance; galmorph reports the euclidean distance itself.
      .map((r, i) => ({ id: String(r.id), rank: i + 1, distance: metric === 'euclidean' ? Math.sqrt(Math.max(0, r._distance)) : r._distance }));
  }

  /** Ranked neighbours of one galaxy of the table (itself excluded). */
  async similar(id: string, options: LanceQueryOptions = {}): Promise<Neighbour[]> {
    return this.search(await this.vectorOf(id), options, id);
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}
