/**
 * `npm run bench:scale`: survey scale. Writes bench/results/scale.json.
 *  1. Embedding through the BullMQ queue (src/scale): galaxies per second with 1 and 2 `galmorph
 *     worker` processes (and a single-process `galmorph embed` beside them) on real GZ2 galaxies with
 *     the committed model, on a private redis-server.
 *  2. LanceDB (src/similarity/lance.ts) at 10^5 and 10^6 vectors, 256 dimensions and 10 PCA
 *     components, on synthetic clustered vectors and on jittered copies of real embeddings: build
 *     time, disk size, recall@10 against exact search, latency per query and the peak resident memory
 *     of a separate query process (which opens the table as `galmorph similar --lance` does, with
 *     galmorph's bounded caches, and answers queries by galaxy id); the same queries in a process
 *     with LanceDB's default caches, and the exact scans in a third process, are measured beside it.
 *   npm run bench:scale -- --sizes 100000            only these set sizes
 *   npm run bench:scale -- --sets clustered          only these sets (clustered, jittered)
 *   npm run bench:scale -- --index ivf-pq            only these index kinds (ivf-pq, ivf-hnsw-sq)
 *   npm run bench:scale -- --dims 256                only these searched dimensions (10: the PCA column, 256)
 *   npm run bench:scale -- --skip-embed              LanceDB only
 *   npm run bench:scale -- --keep FILE               LanceDB only, keeping FILE's results and skipping the rows it has
 *   npm run bench:scale -- --redo                    with --keep: measure the selected rows again, replacing FILE's
 *   npm run bench:scale -- --galaxies 400            galaxies for the throughput runs
 *   npm run bench:scale -- --out FILE.json
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Papa from 'papaparse';
import { seededRng } from '../src/data/augment';
import { readCatalog } from '../src/data/catalog';
import { Embeddings, readEmbeddings } from '../src/data/embeddings';
import { embeddingCachePath } from '../src/encoders/registry';
import { outDir, projectRoot, resolveDataPath } from '../src/paths';
import { RepresentationPca } from '../src/representations/pca';
import { buildLanceFrom, DEFAULT_CACHE_MIB, DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR, LanceIndexKind } from '../src/similarity/lance';
import { exactSearch } from '../src/similarity/search';
import { startRedis } from '../test/support/redis';
import { jittered, mixture } from './synthetic';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const OUT = arg('--out') ?? path.join(projectRoot(), 'bench', 'results', 'scale.json');
const SIZES = (arg('--sizes') ?? '100000,1000000').split(',').map(Number);
const GALAXIES = Number(arg('--galaxies') ?? 400);
const SETS = (arg('--sets') ?? 'clustered,jittered').split(',');
const INDEXES = (arg('--index') ?? 'ivf-pq,ivf-hnsw-sq').split(',') as LanceIndexKind[];
const DIMS = (arg('--dims') ?? '10,256').split(',').map(Number);
const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'galmorph-bench-scale-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadavgAtStart: os.loadavg() },
  embedding: [] as unknown[],
  lance: [] as unknown[],
};
const save = () => {
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
};

// ---- 1. throughput through the queue ----------------------------------------------------------
function proc(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GALMORPH_BACKEND: 'wasm' } });
  const lines: { t: number; line: string }[] = [];
  let buf = '';
  child.stderr!.on('data', (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split(/[\n\r]/);
    buf = parts.pop()!;
    for (const line of parts) if (line) lines.push({ t: performance.now(), line });
  });
  const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, done };
}

async function embedding(): Promise<void> {
  const catalog = readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'asset_id' }).subset(GALAXIES);
  const file = path.join(work, 'catalog.csv');
  fs.writeFileSync(file, Papa.unparse(catalog.rows.map((r) => ({ id: r.asset_id, file: catalog.imagePath(r) })), { newline: '\n' }) + '\n');
  const common = ['--catalog', file, '--batch', '32'];
  const t0 = performance.now();
  const single = proc(['embed', ...common, '--part-size', '50', '--out', path.join(work, 'single.parquet')]);
  if ((await single.done) !== 0) throw new Error(single.lines.map((l) => l.line).join('\n'));
  (results.embedding as unknown[]).push({ workers: 0, what: 'single-process galmorph embed (wall time, start-up included)', galaxies: GALAXIES, seconds: (performance.now() - t0) / 1000, galaxiesPerSecond: GALAXIES / ((performance.now() - t0) / 1000) });
  save();
  const redis = await startRedis();
  try {
    for (const n of [1, 2]) {
      const workers = Array.from({ length: n }, () => proc(['worker', '--queue', redis.url]));
      while (!workers.every((w) => w.lines.some((l) => l.line.includes('waiting for shards')))) await new Promise((r) => setTimeout(r, 100));
      const t = performance.now();
      const coord = proc(['embed', ...common, '--shard-size', '50', '--queue', redis.url, '--out', path.join(work, `queue-${n}.parquet`)]);
      if ((await coord.done) !== 0) throw new Error(coord.lines.map((l) => l.line).join('\n'));
      const wall = (performance.now() - t) / 1000;
      const logs = workers.flatMap((w) => w.lines);
      const first = Math.min(...logs.filter((l) => / started /.test(l.line)).map((l) => l.t));
      const last = Math.max(...logs.filter((l) => / written in /.test(l.line)).map((l) => l.t));
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.done));
      const same = readEmbeddings(path.join(work, `queue-${n}.parquet`));
      const ref = readEmbeddings(path.join(work, 'single.parquet'));
      (results.embedding as unknown[]).push({
        workers: n,
        what: `${n} galmorph worker process(es), shards of 50, workers started before the coordinator`,
        galaxies: GALAXIES,
        seconds: wall,
        galaxiesPerSecond: GALAXIES / wall,
        shardSeconds: (last - first) / 1000,
        galaxiesPerSecondWhileEmbedding: GALAXIES / ((last - first) / 1000),
        identicalToSingleProcess: same.ids.join() === ref.ids.join() && same.vectors.every((v, i) => v === ref.vectors[i]),
      });
      save();
      console.error(`embedding with ${n} worker(s): ${(GALAXIES / wall).toFixed(1)} galaxies/s (${wall.toFixed(1)} s)`);
    }
  } finally {
    await redis.stop();
  }
}

// ---- 2. LanceDB ---------------------------------------------------------------------------------
function realBase(): { e: Embeddings; what: string } | undefined {
  // The notebooks' cached features of the committed encoder (out/embeddings, as `npm run reproduce` leaves them).
  const cached = ['gz2-hart16-1000', 'gz1-sdss-4019', 'decals-rings-470'].map((d) => ({ d, file: embeddingCachePath(d, { id: 'galmorph' }) })).filter((c) => fs.existsSync(c.file));
  const datasets = cached.map((c) => c.d);
  const files = cached.map((c) => c.file);
  if (files.length === 0) return undefined;
  const parts = files.map((f) => readEmbeddings(f));
  const ids = parts.flatMap((p) => p.ids);
  const vectors = new Float32Array(parts.reduce((n, p) => n + p.vectors.length, 0));
  let off = 0;
  for (const p of parts) {
    vectors.set(p.vectors, off);
    off += p.vectors.length;
  }
  return { e: { ids, vectors, dim: parts[0]!.dim }, what: `galmorph embeddings of ${datasets.join(', ')} (${ids.length} galaxies) with jittered copies` };
}

function* batchesOf(e: Embeddings, rows = 65_536): Generator<Embeddings> {
  for (let s = 0; s < e.ids.length; s += rows) {
    const end = Math.min(e.ids.length, s + rows);
    yield { ids: e.ids.slice(s, end), vectors: e.vectors.subarray(s * e.dim, end * e.dim), dim: e.dim };
  }
}

function du(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir, { withFileTypes: true })) n += f.isDirectory() ? du(path.join(dir, f.name)) : fs.statSync(path.join(dir, f.name)).size;
  return n;
}

interface QueryRun {
  found: string[][];
  msPerQuery: number;
  maxRssMiB: number;
  rssAtOpenMiB: number;
}

/**
 * A separate query process: opens the table (`cache` as LanceSearch.open takes it), answers the
 * queries by id (exactly with `exact`); its timings, its resident memory after opening and its peak.
 * The peak is the process's own high-water mark (VmHWM in /proc/self/status): Linux carries a
 * parent's peak into a spawned child's getrusage maxRSS, so that would report this benchmark's own
 * memory (it holds every vector) for any child smaller than it.
 */
function queryProcess(dir: string, ids: string[], opts: { cache?: number | 'lancedb'; exact?: boolean; nprobes?: number; refineFactor?: number }): QueryRun {
  const script = `
    const { LanceSearch } = require(${JSON.stringify(path.join(projectRoot(), 'dist', 'src', 'similarity', 'lance.js'))});
    (async () => {
      const ids = JSON.parse(require('fs').readFileSync(0, 'utf8'));
      const s = await LanceSearch.open(${JSON.stringify(dir)}, ${JSON.stringify(opts.cache === undefined ? {} : { cacheMiB: opts.cache })});
      const rssAtOpen = process.memoryUsage().rss;
      const q = { k: 10, exact: ${opts.exact === true}, nprobes: ${opts.nprobes ?? DEFAULT_NPROBES}${opts.refineFactor ? `, refineFactor: ${opts.refineFactor}` : ''} };
      await s.similar(ids[0], q);
      const found = []; const t = performance.now();
      for (const id of ids) found.push((await s.similar(id, q)).map((n) => n.id));
      const ms = (performance.now() - t) / ids.length;
      s.close();
      // the peak from /proc (VmHWM), not getrusage: a spawned child's ru_maxrss starts at its parent's peak
      const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      console.log(JSON.stringify({ found, msPerQuery: ms, maxRssMiB: hwm / 1024, rssAtOpenMiB: rssAtOpen / 2 ** 20 }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { input: JSON.stringify(ids), encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, LANCE_LOG: 'error' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as QueryRun;
}

/** What identifies a LanceDB row of the results: a rerun replaces the row with the same key. */
type LanceRowKey = { set: string; galaxies: number; dimsSearched: number; index: string };
const rowKey = (r: LanceRowKey) => `${r.set}/${r.galaxies}/${r.dimsSearched}/${r.index}`;

async function lanceSet(name: string, e: Embeddings, variant: { pca?: number; index: LanceIndexKind; partitions?: number }): Promise<void> {
  const n = e.ids.length;
  const dir = path.join(work, `lance-${name}-${n}-${variant.pca ?? e.dim}-${variant.index}`);
  const tp = performance.now();
  const pca = variant.pca ? RepresentationPca.fit(e, { components: variant.pca }) : undefined;
  const pcaFitSeconds = (performance.now() - tp) / 1000;
  const t = performance.now();
  const meta = await buildLanceFrom(() => batchesOf(e), name, dir, { metric: 'cosine', pca, index: variant.index, partitions: variant.partitions });
  const buildSeconds = (performance.now() - t) / 1000;
  const queries = n >= 1_000_000 ? 50 : 100;
  const rng = seededRng(11);
  const rows = Array.from({ length: queries }, () => Math.floor(rng() * n));
  // ground truth: exact search in the space the table searches
  const space = pca ? pca.project(e) : e;
  const te = performance.now();
  const truth = rows.map((q) => new Set(exactSearch(space, space.vectors.subarray(q * space.dim, (q + 1) * space.dim), 10, 'cosine', q).map((h) => e.ids[h.index]!)));
  const exactJsMs = (performance.now() - te) / queries;
  const queryIds = rows.map((r) => e.ids[r]!);
  const q = queryProcess(dir, queryIds, {});
  const lanceDefaults = queryProcess(dir, queryIds, { cache: 'lancedb' });
  const exactScan = queryProcess(dir, queryIds.slice(0, 5), { exact: true });
  const recallOf = (r: QueryRun) => r.found.reduce((s, f, i) => s + f.filter((id) => truth[i]!.has(id)).length, 0) / (queries * 10);
  const recall = recallOf(q);
  // more IVF partitions probed: recall, latency and peak memory (each in its own process, bounded caches)
  const byNprobes = [50, 100].map((nprobes) => {
    const r = queryProcess(dir, queryIds, { nprobes });
    return { nprobes, recallAt10: recallOf(r), msPerQuery: r.msPerQuery, maxRssMiB: r.maxRssMiB };
  });
  // IVF-PQ: more candidates re-ranked by their stored vectors (nprobes 20)
  const byRefineFactor = variant.index !== 'ivf-pq' ? undefined : [5, 50, 100].map((refineFactor) => {
    const r = queryProcess(dir, queryIds, { refineFactor });
    return { refineFactor, recallAt10: recallOf(r), msPerQuery: r.msPerQuery, maxRssMiB: r.maxRssMiB };
  });
  const entry = {
    set: name,
    galaxies: n,
    dimsSearched: variant.pca ?? e.dim,
    storedDims: e.dim,
    index: variant.index,
    indexOptions: meta.indexOptions,
    query: { nprobes: DEFAULT_NPROBES, refineFactor: variant.index === 'ivf-pq' ? DEFAULT_REFINE_FACTOR : undefined },
    buildSeconds,
    ...(pca ? { pcaFitSeconds } : {}),
    diskMiB: du(dir) / 2 ** 20,
    vectorsMiB: (n * e.dim * 4) / 2 ** 20,
    queries,
    recallAt10: recall,
    msPerQuery: q.msPerQuery,
    lanceExactScanMsPerQuery: exactScan.msPerQuery,
    inMemoryExactJsMsPerQuery: exactJsMs,
    queryProcessMaxRssMiB: q.maxRssMiB,
    queryProcessRssAfterOpenMiB: q.rssAtOpenMiB,
    queryProcessCacheMiB: DEFAULT_CACHE_MIB,
    lanceDefaultCachesMaxRssMiB: lanceDefaults.maxRssMiB,
    lanceDefaultCachesRecallAt10: recallOf(lanceDefaults),
    byNprobes,
    ...(byRefineFactor ? { byRefineFactor } : {}),
    exactScanProcessMaxRssMiB: exactScan.maxRssMiB,
    measuredWith: "ANN queries in their own process with galmorph's bounded caches, peak RSS from /proc VmHWM; the same with LanceDB's default caches in a second process; exact scans (5 queries) in a third",
    measuredAt: new Date().toISOString(),
    loadavg: os.loadavg(),
  };
  results.lance = (results.lance as LanceRowKey[]).filter((r) => rowKey(r) !== rowKey(entry));
  (results.lance as unknown[]).push(entry);
  save();
  console.error(JSON.stringify(entry));
  fs.rmSync(dir, { recursive: true, force: true });
}

async function lance(): Promise<void> {
  const base = realBase();
  results.lanceSets = { clustered: 'synthetic, 500 Gaussian clusters with per-cluster spreads, 256 dimensions', jittered: base?.what ?? 'skipped: no cached embeddings in out/embeddings (run notebook 02)' };
  const done = (set: string, galaxies: number, dimsSearched: number, index: string) =>
    !process.argv.includes('--redo') && (results.lance as LanceRowKey[]).some((r) => rowKey(r) === rowKey({ set, galaxies, dimsSearched, index }));
  const makers: [string, (n: number) => Embeddings][] = [['clustered', (n) => mixture(n, 256, 500, 3)], ...(base ? [['jittered', (n: number) => jittered(base.e, n, 0.25, 5)] as [string, (n: number) => Embeddings]] : [])];
  for (const n of SIZES) {
    for (const [name, make] of makers.filter(([name]) => SETS.includes(name))) {
      const todo = DIMS.flatMap((dims) => INDEXES.map((index) => ({ dims, index }))).filter((v) => !done(name, n, v.dims, v.index));
      if (todo.length === 0) continue;
      const e = make(n);
      // IVF partitions: about sqrt(n), as galmorph index --lance chooses (IVF-PQ's training is the slow step here, see docs/scale.md).
      for (const v of todo) await lanceSet(name, e, { pca: v.dims === e.dim ? undefined : v.dims, index: v.index });
    }
  }
}

(async () => {
  const keep = arg('--keep');
  if (keep) {
    const before = JSON.parse(fs.readFileSync(keep, 'utf8')) as { date: string; machine: unknown; embedding: unknown[]; embeddingMeasured?: unknown; lance: Record<string, unknown>[] };
    results.embedding = before.embedding;
    results.embeddingMeasured = before.embeddingMeasured ?? { date: before.date, machine: before.machine };
    // rows from before the query process was split (no measuredWith): their peak includes 5 exact scans
    results.lance = before.lance.map((r) => ({
      measuredWith: "one process: the ANN queries, then 5 exact scans, LanceDB's default caches; its peak RSS is getrusage's maxRSS, which Linux starts at the parent's (this benchmark's) peak, so it is an upper bound that mostly measures the benchmark process",
      ...r,
    }));
  } else if (!process.argv.includes('--skip-embed')) await embedding();
  await lance();
  save();
  console.error(`wrote ${OUT}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
