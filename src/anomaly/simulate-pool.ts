/**
 * Runs simulated sessions (`runRepeat`) on worker threads, a few at a time. The Gaussian process is
 * plain single-threaded JavaScript, so repeats in parallel are what use a machine's other cores.
 * The worker is this package's own `simulate-worker` (compiled .js, or .ts through tsx when the
 * sources run directly, as in the tests).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RepeatJob, RepeatResult } from './simulate';

function workerScript(): { file: string; execArgv: string[] } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `simulate-worker${ext}`);
  return { file, execArgv: ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : [] };
}

export async function runInWorkers(jobs: RepeatJob[], workers: number, onDone: () => void): Promise<RepeatResult[]> {
  const { file, execArgv } = workerScript();
  const queue = jobs.slice();
  const results: RepeatResult[] = [];
  const runOne = (worker: Worker, job: RepeatJob) =>
    new Promise<RepeatResult>((resolve, reject) => {
      const onError = (err: Error) => {
        cleanup();
        reject(new Error(`galmorph: simulated session ${job.repeat + 1} failed in a worker thread: ${err.message}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`galmorph: the worker thread of simulated session ${job.repeat + 1} stopped (exit code ${code})`));
      };
      const onMessage = (result: RepeatResult) => {
        cleanup();
        resolve(result);
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(job);
    });
  const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => new Worker(file, { execArgv }));
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          results.push(await runOne(worker, job));
          onDone();
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
