/**
 * Where a training step's time goes, kernel by kernel, on galmorph's chosen backend:
 *   npx tsx bench/profile-step.ts [--model smallcnn] [--size 64] [--batch 32]
 * Prints the top kernels by total time (tf.profile's per-kernel wall time; nested kernels inside
 * galmorph's composed gradients are counted inside their parent) and the step's img/s.
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
  const model = arg('--model', 'smallcnn');
  const size = Number(arg('--size', '64'));
  const batch = Number(arg('--batch', '32'));
  const micro = process.argv.includes('--micro') ? Number(arg('--micro', String(batch))) : undefined;
  console.log(describeBackend(await initBackend()));
  const net = withDenseHead(buildEncoder(model, { size }), 34);
  const opt = adam(1e-3);
  const x = tf.randomNormal([batch, size, size, 3]);
  const y = tf.randomNormal([batch, 34]);
  const loss = (t: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(t, p) as tf.Scalar;
  await trainStep(net, opt, x, y, loss, { microBatch: micro });
  await trainStep(net, opt, x, y, loss, { microBatch: micro });
  const t0 = performance.now();
  const info = await tf.profile(() => trainStep(net, opt, x, y, loss, { microBatch: micro }).then(() => tf.scalar(0)));
  const wall = performance.now() - t0;
  const top = new Map<string, { ms: number; calls: number }>();
  // tf.profile lists nested kernels too; keep only the kernels galmorph's step calls directly.
  for (const k of info.kernels) {
    const e = top.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    top.set(k.name, e);
  }
  console.log(`${model} ${size}px batch ${batch}: step ${wall.toFixed(0)} ms (${((batch * 1000) / wall).toFixed(1)} img/s; profiling adds overhead)`);
  const rows = [...top.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20);
  for (const [name, e] of rows) console.log(`  ${name.padEnd(40)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.calls).padStart(4)} calls  ${((100 * e.ms) / wall).toFixed(1).padStart(5)}%`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
