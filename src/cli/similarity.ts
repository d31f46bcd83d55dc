/** `galmorph similar` (ranked neighbours of one galaxy) and `galmorph index` (an HNSW index for them). */
import * as fs from 'node:fs';
import { Command } from 'commander';
import Papa from 'papaparse';
import { Embeddings, readEmbeddings } from '../data/embeddings';
import { printable } from './terminal-text';
import { formatExplainedVariance, readPca, RepresentationPca } from '../representations/pca';
import { APPROXIMATE_FROM, DEFAULT_EF, HNSW_DEFAULTS, HnswIndex } from '../similarity/ann';
import { checkMetric, Neighbour, similar } from '../similarity/search';
import { oneOf, POSITIVE_INTEGER, validated } from './options';
import { indexLance, LANCE_INDEX_OPTIONS, LANCE_QUERY_OPTIONS, LanceIndexCliOptions, LanceQueryCliOptions, similarLance } from './lance';

const INDEX_KINDS = ['auto', 'exact', 'hnsw'] as const;
type IndexKind = (typeof INDEX_KINDS)[number];

interface PcaCliOptions {
  pca?: number;
  pcaScale?: boolean;
  pcaFile?: string;
}

function addPcaOptions(cmd: Command): Command {
  return cmd
    .addOption(validated('--pca <n>', 'compare on this many PCA components, fitted on these embeddings', POSITIVE_INTEGER))
    .option('--pca-scale', 'with --pca: standardise each dimension first')
    .option('--pca-file <file>', 'compare on the components of a stored PCA (from galmorph embed --pca), e.g. for new galaxies');
}

/** The PCA the options ask for (fitted or read), with its explained variance on stderr. */
function pcaFromOptions(cmd: string, opts: PcaCliOptions, e: Embeddings, embeddingsFile: string): RepresentationPca | undefined {
  if (opts.pca !== undefined && opts.pcaFile !== undefined) throw new Error(`galmorph ${cmd}: give --pca (fit) or --pca-file (reuse), not both`);
  let pca: RepresentationPca | undefined;
  if (opts.pcaFile !== undefined) {
    pca = readPca(opts.pcaFile);
    if (pca.dim !== e.dim) throw new Error(`galmorph ${cmd}: the PCA in ${opts.pcaFile} projects vectors of length ${pca.dim}, but ${embeddingsFile} has vectors of length ${e.dim}`);
    console.error(`PCA from ${opts.pcaFile} (fitted on ${pca.count} galaxies), explained variance: ${formatExplainedVariance(pca)}`);
  } else if (opts.pca !== undefined) {
    pca = RepresentationPca.fit(e, { components: opts.pca, scale: opts.pcaScale ?? false });
    console.error(`PCA fitted on ${e.ids.length} galaxies, explained variance: ${formatExplainedVariance(pca)}`);
  }
  return pca;
}

interface SimilarCliOptions extends PcaCliOptions, LanceQueryCliOptions {
  embeddings?: string;
  query: string;
  k: number;
  metric?: string;
  index: IndexKind;
  indexFile?: string;
  ef: number;
  out?: string;
}

export function similarCommand(): Command {
  return addPcaOptions(
    new Command('similar')
      .description('the galaxies most similar to one galaxy: exact search, or an HNSW index (approximate) for large catalogues')
      .option('--embeddings <file>', 'from galmorph embed (.parquet or .arrow); or --lance')
      .requiredOption('--query <id>', 'id of the query galaxy')
      .addOption(validated('--k <n>', 'neighbours to return', POSITIVE_INTEGER, 10))
      .option('--metric <name>', 'cosine or euclidean (default cosine, or the index\'s)'),
  )
    .addOption(validated('--index <kind>', 'exact, hnsw (builds an index in memory first), or auto: exact, or the --index-file given', oneOf(INDEX_KINDS), 'auto'))
    .option('--index-file <file>', 'a saved HNSW index of these embeddings (from galmorph index); its metric and PCA are used')
    .addOption(validated('--ef <n>', 'HNSW search breadth: higher is slower and closer to exact', POSITIVE_INTEGER, DEFAULT_EF))
    .option('--out <file>', 'also write the neighbours as CSV (rank, id, distance)')
    .addOption(LANCE_QUERY_OPTIONS.lance())
    .addOption(LANCE_QUERY_OPTIONS.nprobes())
    .addOption(LANCE_QUERY_OPTIONS.refineFactor())
    .action(async (opts: SimilarCliOptions) => {
      const { k, ef } = opts;
      if (opts.lance !== undefined) return similarLance(opts);
      if (opts.embeddings === undefined) throw new Error('galmorph similar: give --embeddings <file> (from galmorph embed) or --lance <dir> (from galmorph index --lance)');
      const e = readEmbeddings(opts.embeddings);
      let kind = opts.index;
      if (opts.indexFile !== undefined) {
        if (kind === 'exact') throw new Error('galmorph similar: --index exact and --index-file contradict each other');
        kind = 'hnsw';
      }
      if (kind === 'auto') {
        // Building an index costs more than thousands of exact queries: one query is always
        // answered exactly, unless a saved index is given.
        kind = 'exact';
        if (e.ids.length >= APPROXIMATE_FROM) console.error(`galmorph similar: ${e.ids.length} galaxies: searching exactly; for many queries build an index once (galmorph index) and pass --index-file`);
      }
      let found: Neighbour[];
      let described: string;
      if (kind === 'hnsw' && opts.indexFile !== undefined) {
        if (opts.pca !== undefined || opts.pcaFile !== undefined) throw new Error(`galmorph similar: the index ${opts.indexFile} already fixes the PCA; leave out --pca and --pca-file`);
        const index = HnswIndex.load(opts.indexFile, e, opts.embeddings);
        if (opts.metric !== undefined && checkMetric(opts.metric) !== index.metric) throw new Error(`galmorph similar: the index ${opts.indexFile} compares by ${index.metric}, not ${opts.metric}; rebuild it with galmorph index --metric ${opts.metric}`);
        const pca = index.pca;
        if (pca) console.error(`index PCA (fitted on ${pca.count} galaxies), explained variance: ${formatExplainedVariance(pca)}`);
        found = index.similar(opts.query, { k, ef });
        described = `${index.metric}${pca ? `, ${pca.components} PCA components` : ''}, HNSW index ${opts.indexFile}, ef ${ef}`;
      } else {
        const metric = checkMetric(opts.metric);
        const pca = pcaFromOptions('similar', opts, e, opts.embeddings);
        if (kind === 'hnsw') {
          const t = performance.now();
          const index = HnswIndex.build(e, { metric, pca });
          console.error(`built an HNSW index of ${e.ids.length} galaxies in ${((performance.now() - t) / 1000).toFixed(1)} s; save it once with galmorph index and pass --index-file to skip this`);
          found = index.similar(opts.query, { k, ef });
        } else {
          found = similar(e, opts.query, { k, metric, pca });
        }
        described = `${metric}${pca ? `, ${pca.components} PCA components` : ''}${kind === 'hnsw' ? `, HNSW ef ${ef}` : ''}`;
      }
      console.log(`neighbours of ${printable(opts.query)} (${described}):`);
      for (const n of found) console.log(`${String(n.rank).padStart(4)}  ${printable(n.id).padEnd(24)} ${n.distance.toFixed(5)}`);
      if (opts.out) fs.writeFileSync(opts.out, Papa.unparse(found.map((n) => ({ rank: n.rank, id: n.id, distance: n.distance })), { newline: '\n' }) + '\n');
    });
}

interface IndexCliOptions extends PcaCliOptions, LanceIndexCliOptions {
  embeddings: string;
  out?: string;
  metric?: string;
  m: number;
  efConstruction: number;
}

export function indexCommand(): Command {
  return addPcaOptions(
    new Command('index')
      .description('build an HNSW index of embeddings for fast approximate galmorph similar (writes FILE and FILE.json)')
      .requiredOption('--embeddings <file>', 'from galmorph embed (.parquet or .arrow)')
      .option('--out <file>', 'index file, e.g. emb.hnsw (its description goes to emb.hnsw.json); or --lance')
      .option('--metric <name>', 'cosine or euclidean', 'cosine'),
  )
    .addOption(validated('--m <n>', 'links per node (hnswlib M)', POSITIVE_INTEGER, HNSW_DEFAULTS.m))
    .addOption(validated('--ef-construction <n>', 'candidate list while building', POSITIVE_INTEGER, HNSW_DEFAULTS.efConstruction))
    .addOption(LANCE_INDEX_OPTIONS.lance())
    .addOption(LANCE_INDEX_OPTIONS.lanceIndex())
    .addOption(LANCE_INDEX_OPTIONS.partitions())
    .addOption(LANCE_INDEX_OPTIONS.subVectors())
    .action(async (opts: IndexCliOptions) => {
      const metric = checkMetric(opts.metric);
      if (opts.lance !== undefined) return indexLance(opts, metric);
      if (opts.out === undefined) throw new Error('galmorph index: give --out <file> (an HNSW index in memory) or --lance <dir> (a LanceDB table on disk)');
      const out = opts.out;
      const { m, efConstruction } = opts;
      const e = readEmbeddings(opts.embeddings);
      const pca = pcaFromOptions('index', opts, e, opts.embeddings);
      const t = performance.now();
      const index = HnswIndex.build(e, { metric, pca, m, efConstruction });
      index.save(out);
      console.error(`indexed ${e.ids.length} galaxies (${metric}${pca ? `, ${pca.components} PCA components` : `, ${e.dim} dimensions`}, M ${m}, efConstruction ${efConstruction}) in ${((performance.now() - t) / 1000).toFixed(1)} s: ${out} and ${out}.json`);
    });
}
