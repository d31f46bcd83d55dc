/**
 * Survey scale on the command line: `galmorph embed --queue redis://HOST:PORT` (the coordinator,
 * wired into `galmorph embed` in model.ts) and `galmorph worker --queue redis://HOST:PORT`.
 */
import { Command } from 'commander';
import { describeBackend, initBackend } from '../backend/select';
import type { SkippedImage } from '../data/batches';
import type { Catalog } from '../data/catalog';
import type { Embeddings } from '../data/embeddings';
import type { Encoder } from '../encoders/registry';
import { POSITIVE_INTEGER, POSITIVE_NUMBER, validated } from './options';
import type * as Queue from '../scale/queue';
import type * as Worker from '../scale/worker';

// BullMQ loads only when a queue is used.
const queueModule = () => require('../scale/queue') as typeof Queue;
const workerModule = () => require('../scale/worker') as typeof Worker;

/** The options `galmorph embed` gains for the queue. */
export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option('--queue <url>', 'embed on many machines: enqueue the shards on this Redis (redis://HOST:PORT) and wait for galmorph worker processes')
    .addOption(validated('--shard-size <n>', 'with --queue: galaxies per shard (one part each; default: --part-size)', POSITIVE_INTEGER))
    .addOption(validated('--attempts <n>', 'with --queue: attempts per shard before it is reported as failed', POSITIVE_INTEGER, 3));
}

export interface QueueCliOptions {
  queue?: string;
  shardSize?: number;
  attempts: number;
  model: string;
  batch: number;
  partSize: number;
  overwrite?: boolean;
  skipUnreadable?: boolean;
}

/** `galmorph embed --queue`: the coordinator, with one progress line over all workers. */
export async function embedWithQueue(encoder: Encoder, catalog: Catalog, out: string, opts: QueueCliOptions & { queue: string }, onSkip: (s: SkippedImage) => void): Promise<Embeddings> {
  const { embedOnQueue, redisConnection } = queueModule();
  redisConnection(opts.queue); // a bad URL stops here, before anything is enqueued
  let last = '';
  return embedOnQueue(encoder, catalog, out, {
    queue: opts.queue,
    model: opts.model,
    seed: encoder.seed,
    ...(encoder.id === 'scratch-galmorph-cnn' && encoder.preprocess.size !== undefined ? { size: encoder.preprocess.size } : {}),
    shardSize: opts.shardSize ?? opts.partSize,
    batchSize: opts.batch,
    skipUnreadable: opts.skipUnreadable,
    attempts: opts.attempts,
    overwrite: opts.overwrite,
    onSkip,
    log: (line) => console.error(line),
    onProgress: (done, total, s) => {
      const line = `\r  ${done}/${total} galaxies, ${s.parts}/${s.shards} shards done, ${s.active} under way${s.failed ? `, ${s.failed} failed` : ''}`;
      if (line !== last) process.stderr.write(line);
      last = line;
    },
  });
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('embed shards that galmorph embed --queue enqueued (run on any number of machines that see the catalogue, its images and the output folder); stops on SIGINT or SIGTERM')
    .requiredOption('--queue <url>', 'the Redis of the queue, redis://HOST:PORT')
    .addOption(validated('--concurrency <k>', 'shards embedded at once by this process', POSITIVE_INTEGER, 1))
    .addOption(validated('--lock-seconds <s>', "how long a shard stays with a worker that stopped answering before another takes it", POSITIVE_NUMBER, 30))
    .action(async (opts: { queue: string; concurrency: number; lockSeconds: number }) => {
      const { redisConnection } = queueModule();
      const { startWorker } = workerModule();
      redisConnection(opts.queue);
      console.error(`galmorph worker — ${describeBackend(await initBackend())}`);
      const worker = await startWorker({ queue: opts.queue, concurrency: opts.concurrency, lockSeconds: opts.lockSeconds, log: (line) => console.error(line) });
      const stop = () => {
        console.error('galmorph worker: stopping after the shards under way');
        void worker.close();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await worker.closed;
    });
}
