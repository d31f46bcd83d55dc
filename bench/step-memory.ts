/**
 * Peak memory of training steps, for bench/memory.sh (run under `/usr/bin/time -v`):
 *   node -r tsx/cjs bench/step-memory.ts [--model efficientnet-b0] [--size 224] [--batch 32] [--micro 8] [--steps 2]
 * Prints the backend line and the process's own peak RSS; the same train step as bench:backend
 * (forward + backward + Adam on an MSE loss to 34 outputs). On the wasm heap (wasm, onednn)
 * EfficientNetB0 at 224 px needs micro-batches (default 8 there); elsewhere the whole batch.
 */
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend/select';
import { buildEncoder, withDenseHead } from '../src/models/architectures';
import { adam } from '../src/training/optimizer';
import { trainStep } from '../src/training/step';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function main() {
  const choice = await initBackend();
  const model = arg('--model', 'efficientnet-b0');
  const size = Number(arg('--size', '224'));
  const batch = Number(arg('--batch', '32'));
  const steps = Number(arg('--steps', '2'));
  const micro = choice.tfjsName === 'wasm' ? Number(arg('--micro', '8')) : undefined;
  const net = withDenseHead(buildEncoder(model, { size }), 34);
  const opt = adam(1e-3);
  const x = tf.randomNormal([batch, size, size, 3]);
  const y = tf.randomNormal([batch, 34]);
  const loss = (t: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(t, p) as tf.Scalar;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainStep(net, opt, x, y, loss, { microBatch: micro });
  const ms = (performance.now() - t0) / steps;
  console.log(JSON.stringify({
    backend: describeBackend(choice),
    model, size, batch, micro_batch: micro ?? null, steps,
    step_ms: Math.round(ms),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
