/**
 * The webgpu backend's checks in one script, for machines without the test runner (the GPU kit,
 * scripts/gpu-bench.sh): the adapter, every weight's gradient of the three encoders against the
 * cpu backend (smallcnn and galmorph-cnn to 1e-4, EfficientNetB0 to 1e-3 relative, 32 px, batch 4)
 * and 20 Adam steps of the small CNN with the loss falling. test/webgpu.test.ts runs the same
 * checks under mocha.
 *   GALMORPH_BACKEND=webgpu npx tsx bench/webgpu-check.ts [--out FILE.json]
 * Exits 1 if a check fails (after running them all).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { compareGradients, modelGradients, shortTrainingRun } from './gradient-check';
import { describeBackend, initBackend } from '../src/backend/select';
import { takeWebgpuError } from '../src/backend/webgpu';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const choice = await initBackend(process.env.GALMORPH_BACKEND || 'webgpu');
  console.log(`webgpu check — ${describeBackend(choice)}`);
  if (choice.name !== 'webgpu') throw new Error(`the webgpu backend is not in use (${choice.name})`);
  let ok = true;
  const parity: Record<string, unknown>[] = [];
  for (const [arch, tol] of [['smallcnn', 1e-4], ['galmorph-cnn', 1e-4], ['efficientnet-b0', 1e-3]] as const) {
    const t0 = performance.now();
    const ref = await modelGradients('cpu', arch, 32, 4);
    const got = await modelGradients('webgpu', arch, 32, 4, ref.weights);
    const c = compareGradients(got, ref, tol);
    const error = takeWebgpuError();
    const pass = c.failures.length === 0 && got.leaked === 0 && Math.abs(got.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss) && !error;
    ok &&= pass;
    parity.push({ arch, size: 32, batch: 4, tolerance: tol, pass, worst_relative_error: c.worst, worst: c.worstName, compared: c.compared, near_zero: c.nearZero, failures: c.failures.slice(0, 10), loss_cpu: ref.loss, loss_webgpu: got.loss, leaked: got.leaked, ...(error ? { webgpu_error: error } : {}) });
    console.log(`  ${pass ? 'ok  ' : 'FAIL'} ${arch} gradients: ${c.compared} compared, worst relative error ${c.worst.toExponential(2)} (${c.worstName}), ${c.failures.length} over ${tol}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await initBackend(choice.name);
  const run = await shortTrainingRun(20);
  const falls = run.losses.every(Number.isFinite) && run.losses.at(-1)! < 0.3 * run.losses[0]! && run.liveAtEnd === run.liveAfterSecond;
  ok &&= falls;
  console.log(`  ${falls ? 'ok  ' : 'FAIL'} training, loss by step: ${run.losses.map((l) => l.toFixed(4)).join(' ')}`);
  const result = { backend: choice.name, adapter: choice.adapter ?? null, tfjs: tf.version.tfjs, node: process.version, date: new Date().toISOString(), pass: ok, parity, training: run };
  const out = arg('--out');
  if (out) {
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${out}`);
  }
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
