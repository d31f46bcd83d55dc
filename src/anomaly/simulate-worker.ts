/** Worker-thread entry of `runInWorkers`: runs each simulated session it is sent and sends back its scores. */
import { parentPort } from 'node:worker_threads';
import { runRepeat, type RepeatJob } from './simulate';

if (!parentPort) throw new Error('galmorph: simulate-worker runs as a worker thread (see simulate-pool.ts)');
const port = parentPort;
port.on('message', (job: RepeatJob) => port.postMessage(runRepeat(job)));
