/**
 * Embedding a catalogue on many machines through a BullMQ queue in Redis. The coordinator
 * (`embedOnQueue`, `galmorph embed --queue redis://HOST:PORT`) cuts the catalogue into shards (the
 * parts of embedCatalog, same folder, names and fingerprint), enqueues one job per shard whose part is
 * not on disk yet, follows every worker's progress and waits; the workers (./worker.ts, `galmorph
 * worker`) embed a shard, write its part exactly once (writeOnce: a private name linked into place)
 * and only then let the job complete. A worker that dies mid-shard stops renewing its job's lock, and
 * BullMQ's stalled-job check hands the shard to another worker. When every part is there the
 * coordinator joins them into the same Parquet (or Arrow) file `galmorph embed` writes in one process.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Queue } from 'bullmq';
import type { ConnectionOptions } from 'bullmq';
import type { Catalog } from '../data/catalog';
import type { SkippedImage } from '../data/batches';
import type { Embeddings } from '../data/embeddings';
import type { Encoder } from '../encoders/registry';
import { EmbedFingerprint, embedFingerprint, joinParts, openParts, partFile, partsDirOf, partSkipped } from '../representations/embed';

/** The queue every galmorph embedding job goes through (a run is told apart by its job ids). */
export const QUEUE_NAME = 'galmorph-embed';

/** What a worker needs to embed one shard: everything but the images themselves, which it reads from the shared folder. */
export interface ShardJob {
  /** The parts folder (`<out>.parts`), as every worker sees it. */
  partsDir: string;
  /** Shard (= part) number, and its rows `first` .. `first + count` of the catalogue. */
  k: number;
  first: number;
  count: number;
  catalog: { file: string; idCol: string; imageCol: string };
  /** sha256 of the shard's ids, one per line: the worker refuses a catalogue that changed. */
  ids: string;
  /** What `loadEncoder` takes (an encoder id or a model folder) and its load options. */
  model: string;
  seed?: number;
  size?: number;
  /** The encoder part of the run's fingerprint: a worker whose model differs (weights, preprocessing) refuses the shard. */
  encoder: EmbedFingerprint['encoder'];
  preprocess: unknown;
  batchSize: number;
  skipUnreadable: boolean;
}

/** What a finished job returns. */
export interface ShardResult {
  /** False when the part was already on disk (another worker wrote it first). */
  written: boolean;
  galaxies: number;
  seconds: number;
  skipped: SkippedImage[];
}

/** Connection options for BullMQ from `redis://[:PASSWORD@]HOST:PORT[/DB]`. */
export function redisConnection(url: string): ConnectionOptions & { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`galmorph: --queue must be a Redis URL such as redis://127.0.0.1:6379, got '${url}'`);
  }
  if (u.protocol !== 'redis:' || !u.hostname) throw new Error(`galmorph: --queue must be a Redis URL such as redis://127.0.0.1:6379, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new Error(`galmorph: the database in --queue ${url} must be a number, got '${db}'`);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db ? { db: Number(db) } : {}),
    // Workers block on Redis: BullMQ needs ioredis to retry forever rather than fail a command.
    maxRetriesPerRequest: null,
  };
}

export function idsHash(ids: readonly string[]): string {
  const h = crypto.createHash('sha256');
  for (const id of ids) h.update(`${id}\n`);
  return h.digest('hex');
}

/** A shard that failed every attempt, with the galaxies it holds. */
export interface FailedShard {
  k: number;
  first: number;
  ids: string[];
  attempts: number;
  reason: string;
}

export interface QueueEmbedOptions {
  /** redis://HOST:PORT */
  queue: string;
  /** What the workers pass to loadEncoder: the encoder id or model folder `encoder` was loaded from. */
  model: string;
  seed?: number;
  size?: number;
  /** Galaxies per shard (= part). Default 1024. */
  shardSize?: number;
  batchSize?: number;
  skipUnreadable?: boolean;
  /** Attempts per shard before it is reported as failed. Default 3. */
  attempts?: number;
  overwrite?: boolean;
  /** Galaxies embedded over all workers (finished parts and the progress of shards under way). */
  onProgress?: (done: number, total: number, status: { parts: number; shards: number; active: number; failed: number }) => void;
  onSkip?: (s: SkippedImage) => void;
  log?: (line: string) => void;
  /** How often to look at the queue, ms. Default 500. */
  pollMs?: number;
}

/** The error `embedOnQueue` throws when shards failed: the other parts are on disk, and a rerun enqueues only the failed shards. */
export class ShardsFailedError extends Error {
  constructor(readonly failed: FailedShard[], partsDir: string) {
    super(
      `galmorph embed: ${failed.length} shard(s) failed; the other parts are in ${partsDir}, and a rerun enqueues only the missing shards:\n` +
        failed.map((f) => `  ${describeFailure(f)}`).join('\n'),
    );
  }
}

export function describeFailure(f: FailedShard): string {
  const ids = f.ids.length <= 6 ? f.ids.join(', ') : `${f.ids.slice(0, 3).join(', ')}, … ${f.ids.slice(-2).join(', ')}`;
  return `shard ${f.k} (catalogue rows ${f.first + 1}-${f.first + f.ids.length}, ${f.ids.length} galaxies: ${ids}) failed after ${f.attempts} attempt(s): ${f.reason}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Embeds `catalog` with `encoder` through the queue: enqueues the shards whose part is missing,
 * waits for the workers, joins the parts into `out`. Throws ShardsFailedError (parts kept) when
 * shards failed every attempt.
 */
export async function embedOnQueue(encoder: Encoder, catalog: Catalog, out: string, options: QueueEmbedOptions): Promise<Embeddings> {
  const log = options.log ?? (() => undefined);
  const shardSize = options.shardSize ?? 1024;
  if (catalog.imageCol === null) throw new Error(`galmorph embed: ${catalog.file} was read without an image column`);
  const partsDir = partsDirOf(out);
  const fingerprint = await embedFingerprint(encoder, catalog, shardSize);
  openParts(partsDir, fingerprint, options.overwrite ?? false);
  const nShards = Math.ceil(catalog.length / shardSize);
  const run = crypto.createHash('sha256').update(partsDir).update(JSON.stringify(fingerprint)).digest('hex').slice(0, 16);
  const jobId = (k: number) => `${run}-${k}`;
  const ids = catalog.ids();
  const shardIds = (k: number) => ids.slice(k * shardSize, (k + 1) * shardSize);
  const queue = new Queue<ShardJob, ShardResult>(QUEUE_NAME, { connection: redisConnection(options.queue) });
  try {
    const missing = Array.from({ length: nShards }, (_, k) => k).filter((k) => !fs.existsSync(partFile(partsDir, k)));
    if (missing.length < nShards) log(`resuming: ${nShards - missing.length} of ${nShards} parts already embedded in ${partsDir}`);
    for (const k of missing) {
      const old = await queue.getJob(jobId(k));
      if (old) {
        const state = await old.getState();
        if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') continue; // under way (an earlier coordinator enqueued it)
        await old.remove();
      }
      const first = k * shardSize;
      const data: ShardJob = {
        partsDir,
        k,
        first,
        count: Math.min(shardSize, catalog.length - first),
        catalog: { file: catalog.file, idCol: catalog.idCol, imageCol: catalog.imageCol },
        ids: idsHash(shardIds(k)),
        model: options.model,
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.size !== undefined ? { size: options.size } : {}),
        encoder: fingerprint.encoder,
        preprocess: fingerprint.preprocess,
        batchSize: options.batchSize ?? 64,
        skipUnreadable: options.skipUnreadable ?? false,
      };
      await queue.add('shard', data, { jobId: jobId(k), attempts: options.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: false });
    }
    log(`enqueued ${missing.length} shard(s) of up to ${shardSize} galaxies on ${options.queue} (queue ${QUEUE_NAME}); start workers with galmorph worker --queue ${options.queue}`);
    const failed = new Map<number, FailedShard>();
    const pending = new Set(missing);
    for (;;) {
      for (const k of pending) if (fs.existsSync(partFile(partsDir, k))) pending.delete(k);
      const active = (await queue.getJobs(['active'])).filter((j) => j.id?.startsWith(`${run}-`));
      for (const j of (await queue.getJobs(['failed'])).filter((j) => j.id?.startsWith(`${run}-`))) {
        const k = Number(j.id!.slice(run.length + 1));
        if (pending.has(k) && !failed.has(k)) failed.set(k, { k, first: k * shardSize, ids: shardIds(k), attempts: j.attemptsMade, reason: j.failedReason });
      }
      let waiting = 0;
      for (const k of pending) waiting += Math.min(shardSize, catalog.length - k * shardSize);
      const under = active.reduce((n, j) => n + (typeof j.progress === 'number' ? j.progress : 0), 0);
      options.onProgress?.(Math.min(catalog.length, catalog.length - waiting + under), catalog.length, { parts: nShards - pending.size, shards: nShards, active: active.length, failed: failed.size });
      if ([...pending].every((k) => failed.has(k))) break;
      await sleep(options.pollMs ?? 500);
    }
    if (failed.size > 0) throw new ShardsFailedError([...failed.values()].sort((a, b) => a.k - b.k), partsDir);
  } finally {
    await queue.close();
  }
  for (let k = 0; k < nShards; k++) for (const s of partSkipped(partsDir, k)) options.onSkip?.(s);
  return joinParts(partsDir, nShards, encoder.dim, out);
}
