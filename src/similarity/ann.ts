/**
 * Approximate similarity search for large catalogues: an HNSW graph (Malkov & Yashunin 2018)
 * through hnswlib-node, the Node binding of the reference C++ hnswlib. Cosine search uses hnswlib's
 * 'cosine' space (1 − cosine similarity, as the exact search), euclidean its 'l2' space (squared
 * distances, square-rooted here). An index is saved as two files: hnswlib's binary graph (`FILE`)
 * and `FILE.json` with the metric, the parameters, the PCA it was built on (if any) and a
 * fingerprint of the embeddings, so it is only ever reused with the embeddings it indexes.
 * Recall against exact search: bench/ann.ts (`npm run bench:ann`).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HierarchicalNSW } from 'hnswlib-node';
import type { Embeddings } from '../data/embeddings';
import { PcaJson, RepresentationPca } from '../representations/pca';
import { checkMetric, Hit, Metric, Neighbour, rowOf } from './search';

/**
 * From this many galaxies `galmorph similar` suggests a saved index (`galmorph index`) for repeated
 * queries; one query is answered exactly, since building an index costs more than the search.
 */
export const APPROXIMATE_FROM = 100_000;

export interface HnswOptions {
  /** Default cosine. */
  metric?: Metric;
  /** Links per node (hnswlib's M). Default 16. */
  m?: number;
  /** Candidate list while building. Default 200. */
  efConstruction?: number;
  /** Seed of the level assignment. Default 100 (hnswlib's). */
  seed?: number;
  /** Index the embeddings' components on this fitted PCA instead of the vectors themselves. */
  pca?: RepresentationPca;
}

export interface HnswQueryOptions {
  /** Neighbours to return. Default 10. */
  k?: number;
  /** Candidate list while searching (hnswlib's ef; raised to k if smaller). Default DEFAULT_EF. */
  ef?: number;
}

/** Default search breadth: recall@10 ≥ 0.999 on the real and clustered 100k sets of bench/results/ann.json, 0.94 on its structureless worst case. */
export const DEFAULT_EF = 100;
/** Defaults of building an index: links per node (hnswlib M) and the candidate list while building. */
export const HNSW_DEFAULTS = { m: 16, efConstruction: 200 } as const;

interface IndexMeta {
  format: 'galmorph-hnsw';
  version: 1;
  metric: Metric;
  /** Length of the indexed vectors (the PCA components when pca is set). */
  dim: number;
  count: number;
  m: number;
  efConstruction: number;
  seed: number;
  /** sha256 of the ids and vectors of the embeddings given to `build`. */
  fingerprint: string;
  pca: PcaJson | null;
}

type Hnswlib = typeof import('hnswlib-node');
let hnswlib: Hnswlib | undefined;

/** hnswlib-node, loaded on first use so the rest of galmorph works where its native build failed. */
function lib(): Hnswlib {
  if (!hnswlib) {
    try {
      hnswlib = require('hnswlib-node') as Hnswlib;
    } catch (err) {
      throw new Error(
        `galmorph: approximate search needs hnswlib-node, which could not be loaded (${(err as Error).message.split('\n')[0]}). ` +
          'It compiles at install time (node-gyp, a C++ compiler and python3): run `npm rebuild hnswlib-node`, or search exactly with --index exact.',
      );
    }
  }
  return hnswlib;
}

/** sha256 of ids and vectors: identifies the embeddings an index was built from. */
function embeddingsFingerprint(e: Embeddings): string {
  const h = createHash('sha256');
  h.update(`${e.ids.length}:${e.dim}\n`);
  for (const id of e.ids) h.update(`${id}\n`);
  h.update(new Uint8Array(e.vectors.buffer, e.vectors.byteOffset, e.vectors.byteLength));
  return h.digest('hex');
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`galmorph: HNSW ${name} must be a positive integer, got ${v}`);
  return v;
}

export class HnswIndex {
  private constructor(
    private readonly index: HierarchicalNSW,
    /** The embeddings in the indexed space (projected when the index has a PCA). */
    private readonly space: Embeddings,
    private readonly meta: IndexMeta,
  ) {}

  get metric(): Metric {
    return this.meta.metric;
  }
  get count(): number {
    return this.meta.count;
  }
  /** The PCA the index compares on, if any. */
  get pca(): RepresentationPca | undefined {
    return this.meta.pca ? RepresentationPca.load(this.meta.pca) : undefined;
  }
  get parameters(): { m: number; efConstruction: number; seed: number } {
    return { m: this.meta.m, efConstruction: this.meta.efConstruction, seed: this.meta.seed };
  }

  /** Builds the graph over every galaxy (row i gets label i). */
  static build(e: Embeddings, options: HnswOptions = {}): HnswIndex {
    const metric = checkMetric(options.metric);
    const m = positive('m', options.m ?? HNSW_DEFAULTS.m);
    const efConstruction = positive('efConstruction', options.efConstruction ?? HNSW_DEFAULTS.efConstruction);
    const seed = options.seed ?? 100;
    if (e.ids.length === 0) throw new Error('galmorph: cannot index an empty set of embeddings');
    const space = options.pca ? options.pca.project(e) : e;
    const index = new (lib().HierarchicalNSW)(metric === 'cosine' ? 'cosine' : 'l2', space.dim);
    index.initIndex({ maxElements: space.ids.length, m, efConstruction, randomSeed: seed });
    for (let i = 0; i < space.ids.length; i++) index.addPoint(Array.from(space.vectors.subarray(i * space.dim, (i + 1) * space.dim)), i);
    const meta: IndexMeta = {
      format: 'galmorph-hnsw',
      version: 1,
      metric,
      dim: space.dim,
      count: space.ids.length,
      m,
      efConstruction,
      seed,
      fingerprint: embeddingsFingerprint(e),
      pca: options.pca ? options.pca.toJSON() : null,
    };
    return new HnswIndex(index, space, meta);
  }

  /** Writes the graph to `file` and its description to `file.json`. */
  save(file: string): void {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.index.writeIndexSync(`${file}.partial`);
    fs.renameSync(`${file}.partial`, file);
    fs.writeFileSync(`${file}.json`, JSON.stringify(this.meta) + '\n');
  }

  /** Loads an index saved by `save`, for the embeddings it was built from (checked by fingerprint). */
  static load(file: string, e: Embeddings, source = 'the embeddings'): HnswIndex {
    if (!fs.existsSync(file)) throw new Error(`galmorph: HNSW index not found: ${file} (build one with galmorph index)`);
    if (!fs.existsSync(`${file}.json`)) throw new Error(`galmorph: ${file}.json is missing: an index is saved as ${path.basename(file)} and ${path.basename(file)}.json (galmorph index writes both)`);
    const meta = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as IndexMeta;
    if (meta.format !== 'galmorph-hnsw' || meta.version !== 1) throw new Error(`galmorph: ${file}.json does not describe a galmorph HNSW index (expected "format": "galmorph-hnsw", "version": 1)`);
    if (meta.count !== e.ids.length || meta.fingerprint !== embeddingsFingerprint(e)) {
      throw new Error(`galmorph: the index ${file} was built from other embeddings than ${source} (${meta.count} galaxies indexed, ${e.ids.length} given, or their vectors differ); rebuild it with galmorph index`);
    }
    const space = meta.pca ? RepresentationPca.load(meta.pca, `${file}.json`).project(e) : e;
    const index = new (lib().HierarchicalNSW)(meta.metric === 'cosine' ? 'cosine' : 'l2', meta.dim);
    index.readIndexSync(file);
    return new HnswIndex(index, space, meta);
  }

  /** The rows nearest to `vector` (in the indexed space), nearest first. */
  search(vector: ArrayLike<number>, options: HnswQueryOptions = {}): Hit[] {
    const k = Math.min(positive('k', options.k ?? 10), this.meta.count);
    if (vector.length !== this.meta.dim) throw new Error(`galmorph: the index compares vectors of length ${this.meta.dim}, got ${vector.length}`);
    this.index.setEf(Math.max(positive('ef', options.ef ?? DEFAULT_EF), k));
    const r = this.index.searchKnn(Array.from(vector), k);
    const hits = r.neighbors.map((index, i) => ({ index, distance: this.meta.metric === 'euclidean' ? Math.sqrt(Math.max(r.distances[i]!, 0)) : r.distances[i]! }));
    return hits.sort((a, b) => a.distance - b.distance || a.index - b.index);
  }

  /** Ranked neighbours of one indexed galaxy (itself excluded), as `similar` gives them. */
  similar(queryId: string, options: HnswQueryOptions = {}): Neighbour[] {
    const q = rowOf(this.space, queryId);
    const k = options.k ?? 10;
    const vector = this.space.vectors.subarray(q * this.space.dim, (q + 1) * this.space.dim);
    const hits = this.search(vector, { k: Math.min(k + 1, this.meta.count), ef: options.ef }).filter((h) => h.index !== q);
    return hits.slice(0, k).map((h, r) => ({ id: this.space.ids[h.index]!, rank: r + 1, distance: h.distance }));
  }
}
