/** `galmorph index --lance DIR` and `galmorph similar --lance DIR`: search on disk with LanceDB (src/similarity/lance.ts). */
import * as fs from 'node:fs';
import Papa from 'papaparse';
import { readPca } from '../representations/pca';
// LanceDB (a native module) loads only when --lance is given.
import type * as Lance from '../similarity/lance';
type LanceIndexKind = Lance.LanceIndexKind;
const lance = () => require('../similarity/lance') as typeof Lance;
import { DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR } from '../similarity/lance-defaults';
import { checkMetric, Metric } from '../similarity/search';
import { oneOf, POSITIVE_INTEGER, validated } from './options';

const LANCE_INDEX_KINDS = ['ivf-pq', 'ivf-hnsw-sq', 'none'] as const satisfies readonly LanceIndexKind[];

export const LANCE_INDEX_OPTIONS = {
  lance: () => validated('--lance <dir>', 'instead of an HNSW file: a LanceDB table on disk in this folder, with an ANN index (for catalogues that do not fit in memory)', { what: 'a folder', parse: (t) => (t ? t : undefined) }),
  lanceIndex: () => validated('--lance-index <kind>', 'with --lance: the ANN index (ivf-pq, ivf-hnsw-sq, or none for exact scans only)', oneOf(LANCE_INDEX_KINDS), 'ivf-pq'),
  partitions: () => validated('--partitions <n>', 'with --lance: IVF partitions (default about the square root of the number of galaxies)', POSITIVE_INTEGER),
  subVectors: () => validated('--sub-vectors <n>', 'with --lance --lance-index ivf-pq: product-quantisation sub-vectors (must divide the dimensions)', POSITIVE_INTEGER),
};

export const LANCE_QUERY_OPTIONS = {
  lance: () => validated('--lance <dir>', 'answer from a LanceDB table (from galmorph index --lance) instead of --embeddings; --index exact scans it exactly', { what: 'a folder', parse: (t) => (t ? t : undefined) }),
  nprobes: () => validated('--nprobes <n>', 'with --lance: IVF partitions searched (higher is slower and closer to exact)', POSITIVE_INTEGER, DEFAULT_NPROBES),
  refineFactor: () => validated('--refine-factor <n>', 'with --lance on IVF-PQ: re-rank n × k candidates by their full vectors', POSITIVE_INTEGER, DEFAULT_REFINE_FACTOR),
};

export interface LanceIndexCliOptions {
  embeddings: string;
  lance?: string;
  lanceIndex: LanceIndexKind;
  partitions?: number;
  subVectors?: number;
  pca?: number;
  pcaScale?: boolean;
  pcaFile?: string;
}

export async function indexLance(opts: LanceIndexCliOptions, metric: Metric): Promise<void> {
  if (opts.pca !== undefined && opts.pcaFile !== undefined) throw new Error('galmorph index: give --pca (fit) or --pca-file (reuse), not both');
  const { buildLance } = lance();
  const t = performance.now();
  const meta = await buildLance(opts.embeddings, opts.lance!, {
    metric,
    pca: opts.pcaFile !== undefined ? readPca(opts.pcaFile) : opts.pca,
    pcaScale: opts.pcaScale,
    index: opts.lanceIndex,
    partitions: opts.partitions,
    subVectors: opts.subVectors,
    log: (line) => console.error(line),
  });
  console.error(`indexed ${meta.galaxies} galaxies into ${opts.lance} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

export interface LanceQueryCliOptions {
  lance?: string;
  nprobes: number;
  refineFactor: number;
}

interface SimilarLanceOptions extends LanceQueryCliOptions {
  query: string;
  k: number;
  metric?: string;
  index: string;
  indexFile?: string;
  ef: number;
  pca?: number;
  pcaFile?: string;
  embeddings?: string;
  out?: string;
}

export async function similarLance(opts: SimilarLanceOptions): Promise<void> {
  const dir = opts.lance!;
  if (opts.embeddings !== undefined || opts.indexFile !== undefined) throw new Error('galmorph similar: --lance answers from the LanceDB table alone; leave out --embeddings and --index-file');
  if (opts.pca !== undefined || opts.pcaFile !== undefined) throw new Error(`galmorph similar: the LanceDB table in ${dir} already fixes the PCA; leave out --pca and --pca-file`);
  if (opts.index === 'hnsw') throw new Error('galmorph similar: --index hnsw is for --embeddings; with --lance the table\'s own index is used (--index exact scans exactly)');
  const { LanceSearch } = lance();
  const search = await LanceSearch.open(dir);
  try {
    const { meta } = search;
    if (opts.metric !== undefined && checkMetric(opts.metric) !== meta.metric) throw new Error(`galmorph similar: the LanceDB table in ${dir} compares by ${meta.metric}, not ${opts.metric}; rebuild it with galmorph index --lance ${dir} --metric ${opts.metric}`);
    const exact = opts.index === 'exact' || meta.index === 'none';
    const found = await search.similar(opts.query, { k: opts.k, exact, nprobes: opts.nprobes, refineFactor: opts.refineFactor, ...(meta.index === 'ivf-hnsw-sq' ? { ef: opts.ef } : {}) });
    const how = exact ? 'exact scan' : `${meta.index}, nprobes ${opts.nprobes}${meta.index === 'ivf-pq' ? `, refine ${opts.refineFactor}` : `, ef ${opts.ef}`}`;
    console.log(`neighbours of ${opts.query} (${meta.metric}${meta.pcaComponents ? `, ${meta.pcaComponents} PCA components` : ''}, LanceDB ${dir}, ${how}):`);
    for (const n of found) console.log(`${String(n.rank).padStart(4)}  ${n.id.padEnd(24)} ${n.distance.toFixed(5)}`);
    if (opts.out) fs.writeFileSync(opts.out, Papa.unparse(found.map((n) => ({ rank: n.rank, id: n.id, distance: n.distance })), { newline: '\n' }) + '\n');
  } finally {
    search.close();
  }
}
