/**
 * Runs simulated sessions (`runRepeat`) on worker threads, a few at a time. The Gaussian process is
 * plain single-threaded JavaScript, so repeats in parallel are what use a machine's other cores.
 * The worker is this package's own `simulate-worker` (compiled .js, or .ts through tsx when the
 * sources run directly, as in the tests).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RepeatResult, SessionData } from './simulate';

function workerScript(): { file: string; execArgv: string[] } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `simulate-worker${ext}`);
  return { file, execArgv: ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : [] };
}

/** The session data goes to each worker once (`workerData`); then each is sent repeat numbers. */
export async function runInWorkers(data: SessionData, repeats: number[], workers: number, onDone: () => void): Promise<RepeatResult[]> {
  const { file, execArgv } = workerScript();
  const queue = repeats.slice();
  const results: RepeatResult[] = [];
  const runOne = (worker: Worker, repeat: number) =>
    new Promise<RepeatResult>((resolve, reject) => {
      const onError = (err: Error) => {
        cleanup();
        reject(new Error(`galmorph: simulated session ${repeat + 1} failed in a worker thread: ${err.message}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`galmorph: the worker thread of simulated session ${repeat + 1} stopped (exit code ${code})`));
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
      worker.postMessage(repeat);
    });
  const pool = Array.from({ length: Math.min(workers, repeats.length) }, () => new Worker(file, { execArgv, workerData: data }));
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let repeat = queue.shift(); repeat !== undefined; repeat = queue.shift()) {
          results.push(await runOne(worker, repeat));
          onDone();
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
