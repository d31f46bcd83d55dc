/**
 * `npm run bench:ann`: approximate (HNSW, src/similarity/ann.ts) against exact similarity search.
 * For each set: index build time, query time and recall@10 (the share of the exact 10 nearest
 * neighbours, the query itself left out, that the index returns) at several efSearch values, with
 * the exact search's own query time beside them. Writes bench/results/ann.json.
 *   npm run bench:ann -- --quick                   10k-galaxy large sets, fewer queries (a smoke run)
 *   npm run bench:ann -- --embeddings-dir DIR      cached embeddings (default: <out>/embeddings, from
 *                                                  notebook 02; sets that are missing are skipped)
 *   npm run bench:ann -- --out FILE.json           another output file
 * Sets: every cached embeddings file (cosine, the vectors as stored; the galmorph ones also on 10
 * standardised PCA components, as notebook 02 compares them); the galmorph embeddings of all three
 * datasets plus noise-jittered copies up to 100,000 galaxies (cosine and euclidean); and 100,000
 * synthetic 64-d galaxies from a Gaussian mixture (cosine and euclidean), and 100,000 from a single
 * Gaussian without clusters (euclidean; no structure, the worst case for a graph index).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { seededRng } from '../src/data/augment';
import { outDir } from '../src/paths';
import { Embeddings, readEmbeddings } from '../src/data/embeddings';
import { RepresentationPca } from '../src/representations/pca';
import { HnswIndex } from '../src/similarity/ann';
import { exactSearch, Metric } from '../src/similarity/search';
import { jittered, mixture } from './synthetic';

const K = 10;
const EF_SEARCH = [10, 20, 50, 100, 200];
const M = 16;
const EF_CONSTRUCTION = 200;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
const LARGE = quick ? 10_000 : 100_000;
const QUERIES = quick ? 200 : 1000;

function concat(sets: Embeddings[]): Embeddings {
  const dim = sets[0]!.dim;
  const vectors = new Float32Array(sets.reduce((s, e) => s + e.vectors.length, 0));
  let off = 0;
  for (const e of sets) {
    vectors.set(e.vectors, off);
    off += e.vectors.length;
  }
  return { ids: sets.flatMap((e) => e.ids), vectors, dim };
}

function sampleQueries(n: number, count: number, seed: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  const rng = seededRng(seed);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(rng() * n));
  return [...picked];
}

interface Row {
  set: string;
  galaxies: number;
  dim: number;
  metric: Metric;
  queries: number;
  build_s: number;
  index_mb: number;
  exact_ms_per_query: number;
  ef: { ef: number; recall_at_10: number; ms_per_query: number }[];
}

function bench(name: string, e: Embeddings, metric: Metric): Row {
  const n = e.ids.length;
  const d = e.dim;
  const queries = sampleQueries(n, QUERIES, 7);
  const vec = (q: number) => e.vectors.subarray(q * d, (q + 1) * d);
  let t = performance.now();
  const truth = queries.map((q) => new Set(exactSearch(e, vec(q), K, metric, q).map((h) => h.index)));
  const exactMs = (performance.now() - t) / queries.length;
  t = performance.now();
  const index = HnswIndex.build(e, { metric, m: M, efConstruction: EF_CONSTRUCTION });
  const buildS = (performance.now() - t) / 1000;
  const tmp = path.join(os.tmpdir(), `galmorph-bench-ann-${process.pid}.hnsw`);
  index.save(tmp);
  const indexMb = fs.statSync(tmp).size / 2 ** 20;
  fs.rmSync(tmp);
  fs.rmSync(`${tmp}.json`);
  const ef = EF_SEARCH.map((ef) => {
    let found = 0;
    const t0 = performance.now();
    const results = queries.map((q) => index.search(vec(q), { k: K + 1, ef }).filter((h) => h.index !== q).slice(0, K));
    const ms = (performance.now() - t0) / queries.length;
    results.forEach((r, i) => r.forEach((h) => (found += truth[i]!.has(h.index) ? 1 : 0)));
    return { ef, recall_at_10: +(found / (K * queries.length)).toFixed(4), ms_per_query: +ms.toFixed(3) };
  });
  const row: Row = { set: name, galaxies: n, dim: d, metric, queries: queries.length, build_s: +buildS.toFixed(2), index_mb: +indexMb.toFixed(1), exact_ms_per_query: +exactMs.toFixed(2), ef };
  console.error(`${name} (${n} × ${d}, ${metric}): build ${row.build_s} s, exact ${row.exact_ms_per_query} ms/query; ` + ef.map((r) => `ef ${r.ef}: recall@10 ${r.recall_at_10}, ${r.ms_per_query} ms`).join('; '));
  return row;
}

function main(): void {
  const loadStart = os.loadavg()[0]!; // the machine may be shared: timings move with its load
  const dir = arg('--embeddings-dir') ?? path.join(outDir(), 'embeddings');
  const out = arg('--out') ?? path.join(__dirname, 'results', quick ? 'ann-quick.json' : 'ann.json');
  const rows: Row[] = [];
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort() : [];
  if (!files.length) console.error(`no cached embeddings in ${dir} (run notebook 02, or pass --embeddings-dir): real sets skipped`);
  const galmorph: Embeddings[] = [];
  for (const f of files) {
    const e = readEmbeddings(path.join(dir, f));
    const name = f.replace(/\.parquet$/, '');
    rows.push(bench(name, e, 'cosine'));
    if (name.endsWith('-galmorph')) {
      galmorph.push(e);
      rows.push(bench(`${name}, 10 PCA components (standardised)`, RepresentationPca.fit(e, { components: 10, scale: true }).project(e), 'cosine'));
    }
  }
  if (galmorph.length) {
    const all = concat(galmorph);
    const big = jittered(all, LARGE, 0.25, 3);
    const name = `galmorph embeddings of all ${all.ids.length} galaxies + jittered copies (noise 0.25 sd)`;
    rows.push(bench(name, big, 'cosine'));
    rows.push(bench(name, big, 'euclidean'));
  }
  const syn = mixture(LARGE, 64, 200, 1);
  rows.push(bench('synthetic: mixture of 200 Gaussians in 64-d', syn, 'cosine'));
  rows.push(bench('synthetic: mixture of 200 Gaussians in 64-d', syn, 'euclidean'));
  // no clusters at all: the hardest case for a graph index (and far from real representations)
  rows.push(bench('synthetic: one Gaussian in 64-d, no clusters (worst case)', mixture(LARGE, 64, 1, 2), 'euclidean'));
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const result = {
    machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`,
    load_average_1min: { start: +loadStart.toFixed(2), end: +os.loadavg()[0]!.toFixed(2) },
    library: `hnswlib-node ${(require('hnswlib-node/package.json') as { version: string }).version}`,
    date: new Date().toISOString(),
    protocol: `HNSW M ${M}, efConstruction ${EF_CONSTRUCTION}, one thread; ${QUERIES} seeded random queries per set (all galaxies when fewer), each left out of its own results; recall@10 = share of the exact search's 10 nearest the index returns; exact = galmorph's exact search (src/similarity/search.ts) over every galaxy`,
    rows,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${out}`);
}

main();
