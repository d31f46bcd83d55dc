/**
 * A queue worker (`galmorph worker --queue redis://HOST:PORT`): takes shards from the queue that
 * `embedOnQueue` (./queue.ts) fills, embeds each with embedPart (the code embedCatalog runs for a
 * part), writes its part exactly once and only then lets BullMQ mark the job completed. Run any
 * number of them on machines that see the parts folder, the catalogue and its images. A shard whose
 * images cannot be read fails its attempt with the reason (the file named), and BullMQ retries it a
 * bounded number of times; a model or catalogue that differs from the coordinator's is refused at
 * once (no retry).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { Catalog, readCatalog } from '../data/catalog';
import { Encoder, loadEncoder } from '../encoders/registry';
import { embedFingerprint, embedPart, partFile, partSkipped } from '../representations/embed';
import { idsHash, QUEUE_NAME, redisConnection, ShardJob, ShardResult } from './queue';

export interface WorkerOptions {
  queue: string;
  /** Shards embedded at once by this process. Default 1 (one process per core or GPU is the usual layout). */
  concurrency?: number;
  /**
   * Seconds a shard's lock lasts without renewal (renewed every half of it while the worker lives);
   * a worker gone longer than this loses its shard to another. Also how often this worker looks for
   * stalled shards. Default 30.
   */
  lockSeconds?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  /** Stops taking shards, lets the shards under way finish, and disconnects. */
  close(): Promise<void>;
  /** Resolves when the worker has closed. */
  closed: Promise<void>;
}

/** The encoder fields that must agree between the coordinator and a worker (a model folder may sit at another path). */
function sameModel(a: ShardJob['encoder'], b: ShardJob['encoder']): boolean {
  return a.id === b.id && a.dim === b.dim && a.weights === b.weights && a.seed === b.seed;
}

/** Starts a worker on the queue; it runs until close() (galmorph worker: until SIGINT or SIGTERM). */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const log = options.log ?? (() => undefined);
  const me = `${os.hostname()}:${process.pid}`;
  const encoders = new Map<string, Promise<{ encoder: Encoder; fingerprint: ShardJob['encoder'] }>>();
  const catalogs = new Map<string, { mtimeMs: number; catalog: Catalog }>();

  const encoderFor = (d: ShardJob) => {
    const key = JSON.stringify([d.model, d.seed, d.size]);
    let e = encoders.get(key);
    if (!e) {
      e = loadEncoder(d.model, { seed: d.seed, size: d.size }).then(async (encoder) => {
        const probe = new Catalog('', [], [], 'id', null);
        return { encoder, fingerprint: (await embedFingerprint(encoder, probe, 1)).encoder };
      });
      encoders.set(key, e);
    }
    return e;
  };
  const catalogFor = (d: ShardJob): Catalog => {
    const { file, idCol, imageCol } = d.catalog;
    if (!fs.existsSync(file)) throw new UnrecoverableError(`galmorph worker ${me}: the catalogue ${file} is not on this machine (workers need the catalogue, its images and the parts folder at the same paths)`);
    const key = JSON.stringify(d.catalog);
    const mtimeMs = fs.statSync(file).mtimeMs;
    let c = catalogs.get(key);
    if (!c || c.mtimeMs !== mtimeMs) {
      c = { mtimeMs, catalog: readCatalog(file, { idCol, imageCol }) };
      catalogs.clear(); // one catalogue at a time is the usual case; do not hold several
      catalogs.set(key, c);
    }
    return c.catalog;
  };

  const process_ = async (job: Job<ShardJob, ShardResult>): Promise<ShardResult> => {
    const d = job.data;
    const t = performance.now();
    const target = partFile(d.partsDir, d.k);
    if (!fs.existsSync(d.partsDir)) throw new UnrecoverableError(`galmorph worker ${me}: the parts folder ${d.partsDir} is not on this machine`);
    if (fs.existsSync(target)) return { written: false, galaxies: d.count, seconds: 0, skipped: partSkipped(d.partsDir, d.k) };
    const { encoder, fingerprint } = await encoderFor(d);
    if (!sameModel(fingerprint, d.encoder) || JSON.stringify(encoder.preprocess) !== JSON.stringify(d.preprocess)) {
      throw new UnrecoverableError(`galmorph worker ${me}: the model '${d.model}' here differs from the coordinator's (weights ${fingerprint.weights.slice(0, 12)} vs ${d.encoder.weights.slice(0, 12)}, or its preprocessing)`);
    }
    const shard = catalogFor(d).slice(d.first, d.first + d.count);
    if (shard.length !== d.count || idsHash(shard.ids()) !== d.ids) throw new UnrecoverableError(`galmorph worker ${me}: rows ${d.first + 1}-${d.first + d.count} of ${d.catalog.file} are not the galaxies the coordinator enqueued (the catalogue changed?)`);
    log(`worker ${me}: shard ${d.k} started (${d.count} galaxies, attempt ${job.attemptsMade + 1})`);
    let reported = 0;
    const skipped: ShardResult['skipped'] = [];
    const written = await embedPart(encoder, shard, d.partsDir, d.k, d.first, {
      batchSize: d.batchSize,
      skipUnreadable: d.skipUnreadable,
      onSkip: (s) => skipped.push(s),
      onProgress: (n) => {
        if (n - reported >= Math.max(1, d.batchSize) || n === d.count) {
          reported = n;
          void job.updateProgress(n).catch(() => undefined);
        }
      },
    });
    const seconds = (performance.now() - t) / 1000;
    log(`worker ${me}: shard ${d.k} ${written ? 'written' : 'was written by another worker first'} in ${seconds.toFixed(1)} s (${(d.count / seconds).toFixed(1)} galaxies/s)`);
    return { written, galaxies: d.count, seconds, skipped };
  };

  const lockMs = Math.round((options.lockSeconds ?? 30) * 1000);
  const worker = new Worker<ShardJob, ShardResult>(QUEUE_NAME, process_, {
    connection: redisConnection(options.queue),
    concurrency: options.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // A shard may lose its worker twice (two machines lost) before it is failed as stalled.
    maxStalledCount: 2,
  });
  worker.on('failed', (job, err) => {
    if (job) log(`worker ${me}: shard ${job.data.k} attempt ${job.attemptsMade} failed: ${err.message}`);
  });
  worker.on('error', (err) => log(`worker ${me}: ${err.message}`));
  await worker.waitUntilReady();
  log(`worker ${me}: waiting for shards on ${options.queue} (queue ${QUEUE_NAME}, concurrency ${options.concurrency ?? 1})`);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  return {
    closed,
    close: async () => {
      await worker.close();
      for (const e of encoders.values()) (await e).encoder.dispose();
      resolveClosed();
    },
  };
}
