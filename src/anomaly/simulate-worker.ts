/** Worker-thread entry of `runInWorkers`: the session data arrives once as workerData; then it runs each repeat it is sent and sends back its scores. */
import { parentPort, workerData } from 'node:worker_threads';
import { runRepeat, type SessionData } from './simulate';

if (!parentPort) throw new Error('galmorph: simulate-worker runs as a worker thread (see simulate-pool.ts)');
const port = parentPort;
const data = workerData as SessionData;
port.on('message', (repeat: number) => port.postMessage(runRepeat(data, repeat)));
