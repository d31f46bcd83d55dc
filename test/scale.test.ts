/**
 * Embedding on many processes through BullMQ (src/scale): a private redis-server, real galaxies,
 * the committed model, `galmorph embed --queue` and `galmorph worker` as separate processes.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Papa from 'papaparse';
import { readEmbeddings } from '../src/data/embeddings';
import { projectRoot } from '../src/paths';
import { gz2Sample, tempDir } from './support/fixtures';
import { startRedis, TestRedis } from './support/redis';

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');

interface Run {
  child: ChildProcess;
  /** stderr so far */
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function galmorph(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GALMORPH_BACKEND: 'wasm' } });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, err: () => stderr, done };
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const t = Date.now();
  while (!ok()) {
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first `n` GZ2 galaxies as a catalogue with absolute image paths (`broken`: ids whose image is replaced by a file that is no image). */
function writeCatalog(dir: string, n: number, broken: string[] = []): { file: string; ids: string[]; brokenFiles: string[] } {
  const catalog = gz2Sample(n);
  const brokenFiles: string[] = [];
  const rows = catalog.rows.map((r) => {
    const id = r[catalog.idCol]!;
    if (!broken.includes(id)) return { id, file: catalog.imagePath(r) };
    const file = path.join(dir, `${id}.jpg`);
    fs.writeFileSync(file, 'not a JPEG');
    brokenFiles.push(file);
    return { id, file };
  });
  const file = path.join(dir, 'catalog.csv');
  fs.writeFileSync(file, Papa.unparse(rows, { newline: '\n' }) + '\n');
  return { file, ids: catalog.ids(), brokenFiles };
}

describe('survey scale: embedding through a BullMQ queue', function () {
  this.timeout(300_000);
  let redis: TestRedis;
  const workers: Run[] = [];
  before(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.done;
    }
  });
  after(async () => redis?.stop());

  it('three workers, one killed with kill -9 mid-shard: every galaxy exactly once, the same vectors as one process', async () => {
    const dir = tempDir('galmorph-scale-');
    const { file, ids } = writeCatalog(dir, 300);
    const single = path.join(dir, 'single.parquet');
    const one = await galmorph(['embed', '--catalog', file, '--out', single, '--batch', '10', '--part-size', '20']).done;
    assert.equal(one.code, 0, one.stderr);

    const out = path.join(dir, 'queued.parquet');
    for (let i = 0; i < 3; i++) workers.push(galmorph(['worker', '--queue', redis.url, '--lock-seconds', '4']));
    const coordinator = galmorph(['embed', '--catalog', file, '--out', out, '--batch', '10', '--shard-size', '20', '--queue', redis.url]);
    // The first worker to start a shard is killed while it embeds it.
    let victim = -1;
    let shard = '';
    await until('a worker to start a shard', () => {
      victim = workers.findIndex((w) => /shard \d+ started/.test(w.err()));
      return victim >= 0;
    });
    shard = /shard (\d+) started/.exec(workers[victim]!.err())![1]!;
    process.kill(workers[victim]!.child.pid!, 'SIGKILL');
    const killed = await workers[victim]!.done;
    assert.equal(killed.signal, 'SIGKILL');
    assert.doesNotMatch(killed.stderr, new RegExp(`shard ${shard} written`), 'killed before it finished its shard');

    const result = await coordinator.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /enqueued 15 shard\(s\)/);
    assert.match(result.stderr, /300\/300 galaxies, 15\/15 shards done/);
    const survivors = workers.filter((_, i) => i !== victim).map((w) => w.err());
    assert.ok(survivors.some((log) => new RegExp(`shard ${shard} started`).test(log)), `another worker took over shard ${shard}:\n${survivors.join('\n')}`);
    // Exactly once: every shard written by one worker, and none twice.
    const written = survivors.join('\n').match(/shard \d+ written in/g) ?? [];
    assert.equal(written.length, 15, survivors.join('\n'));
    assert.equal(new Set(written).size, 15);

    const a = readEmbeddings(single);
    const b = readEmbeddings(out);
    assert.deepEqual(b.ids, ids, 'every catalogue id, once, in catalogue order');
    assert.equal(new Set(b.ids).size, 300);
    assert.equal(b.dim, a.dim);
    let worst = 0;
    a.vectors.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b.vectors[i]!))));
    assert.equal(worst, 0, 'the same vectors as a single-process galmorph embed');
    assert.ok(!fs.existsSync(`${out}.parts`), 'parts joined and removed');
  });

  it('a shard with an unreadable image is retried, then reported with the file; the other shards are done', async () => {
    const dir = tempDir('galmorph-scale-');
    const all = gz2Sample(60).ids();
    const bad = all[27]!; // shard 1 of 20-galaxy shards
    const { file, brokenFiles } = writeCatalog(dir, 60, [bad]);
    workers.push(galmorph(['worker', '--queue', redis.url, '--lock-seconds', '4']));
    const out = path.join(dir, 'emb.parquet');
    const r = await galmorph(['embed', '--catalog', file, '--out', out, '--batch', '10', '--shard-size', '20', '--attempts', '2', '--queue', redis.url]).done;
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 shard\(s\) failed/);
    assert.match(r.stderr, new RegExp(`shard 1 \\(catalogue rows 21-40, 20 galaxies: [^)]*${all[20]}[^)]*\\) failed after 2 attempt\\(s\\): .*${brokenFiles[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const parts = fs.readdirSync(`${out}.parts`).filter((f) => f.endsWith('.arrow')).sort();
    assert.deepEqual(parts, ['part-000000.arrow', 'part-000002.arrow'], 'the other shards are done');
    assert.ok(!fs.existsSync(out));
    assert.equal(fs.readdirSync(`${out}.parts`).filter((f) => f.includes('.partial')).length, 0, 'no temporary part left behind');
    // A rerun enqueues only the missing shard; with --skip-unreadable it finishes and lists the file.
    const again = await galmorph(['embed', '--catalog', file, '--out', out, '--batch', '10', '--shard-size', '20', '--queue', redis.url, '--skip-unreadable']).done;
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming: 2 of 3 parts/);
    assert.match(again.stderr, /enqueued 1 shard\(s\)/);
    const e = readEmbeddings(out);
    assert.deepEqual(e.ids, all.filter((id) => id !== bad));
    assert.match(fs.readFileSync(path.join(dir, 'emb.skipped.csv'), 'utf8'), new RegExp(path.basename(brokenFiles[0]!)));
  });
});
