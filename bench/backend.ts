/**
 * `npm run bench:backend`: forward and train-step images per second at batch 32 for galmorph's
 * chosen backend and for the equivalent PyTorch models, in one run on the same machine, with the
 * ratio galmorph / PyTorch per row. Writes bench/results/backend.json.
 *   npm run bench:backend -- --quick            smaller repeats (a smoke run)
 *   npm run bench:backend -- --only smallcnn    one model
 *   npm run bench:backend -- --out FILE.json    another output file
 * Protocol, both sides: 2 warm-up steps, then REPEATS timings of ITERS steps each; the median
 * rate is reported. Train step = forward + backward + Adam update on an MSE loss to 34 targets.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend/select';
import { buildEncoder, withDenseHead } from '../src/models/encoders';
import { trainStep } from '../src/training/step';

interface Config {
  model: string;
  size: number;
  batch: number;
  /** galmorph only: examples per forward/backward pass inside a train step (wasm heap limit). */
  microBatch?: number;
  phases: ('forward' | 'train')[];
}

const CONFIGS: Config[] = [
  { model: 'smallcnn', size: 64, batch: 32, phases: ['forward', 'train'] },
  { model: 'smallcnn', size: 128, batch: 32, phases: ['forward', 'train'] },
  { model: 'galmorph-cnn', size: 96, batch: 32, phases: ['forward', 'train'] },
  { model: 'efficientnet-b0', size: 224, batch: 32, microBatch: 8, phases: ['forward', 'train'] },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function measure(step: () => Promise<void>, batch: number, repeats: number, iters: number): Promise<number[]> {
  await step();
  await step();
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    for (let i = 0; i < iters; i++) await step();
    rates.push((batch * iters * 1000) / (performance.now() - t));
  }
  return rates;
}

async function galmorphRows(configs: Config[], repeats: number, iters: (c: Config) => number) {
  const rows: { model: string; size: number; phase: string; batch: number; img_s: number; runs: number[] }[] = [];
  for (const c of configs) {
    const model = withDenseHead(buildEncoder(c.model, { size: c.size }), 34);
    const x = tf.randomNormal([c.batch, c.size, c.size, 3]);
    const y = tf.randomNormal([c.batch, 34]);
    for (const phase of c.phases) {
      let step: () => Promise<void>;
      const optimizer = tf.train.adam(1e-3);
      if (phase === 'forward') {
        step = async () => {
          const out = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
          await out.data();
          out.dispose();
        };
      } else {
        step = async () => {
          await trainStep(model, optimizer, x, y, (t, p) => tf.losses.meanSquaredError(t, p) as tf.Scalar, { microBatch: c.microBatch });
        };
      }
      const runs = await measure(step, c.batch, repeats, iters(c));
      rows.push({ model: c.model, size: c.size, phase, batch: c.batch, img_s: median(runs), runs });
      console.log(`  galmorph ${c.model} ${c.size}px ${phase}: ${median(runs).toFixed(1)} img/s`);
      optimizer.dispose();
    }
    tf.dispose([x, y]);
    model.dispose();
  }
  return rows;
}

const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

/** The PyTorch side, or a reason it could not run (never a made-up number). */
function torchRows(configs: Config[], repeats: number, iters: (c: Config) => number): { version?: string; rows: { model: string; size: number; phase: string; img_s: number }[]; problem?: string } {
  const python = process.env.GALMORPH_PYTHON ?? '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return { rows: [], problem: `PyTorch is not importable from ${python} (install Debian python3-torch python3-torchvision libjemalloc2)` };
  }
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '2', MKL_NUM_THREADS: '2' };
  if (fs.existsSync(JEMALLOC)) {
    env.LD_PRELOAD = JEMALLOC;
    env.MALLOC_CONF = 'retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1';
  } else {
    console.warn(`  (no ${JEMALLOC}: PyTorch runs with glibc malloc, which is 3-10x slower here; install libjemalloc2)`);
  }
  // PyTorch at its best: full batches, no micro-batching.
  const torchConfigs = configs.map((c) => ({ model: c.model, size: c.size, batch: c.batch, phases: c.phases, iters: iters(c) }));
  const results: { model: string; size: number; phase: string; img_s: number }[] = [];
  let version: string | undefined;
  // One process per config, so the iteration count can differ by model.
  for (const c of torchConfigs) {
    const r = spawnSync(python, [path.join(__dirname, 'torch_backend.py'), JSON.stringify([c]), String(repeats), String(c.iters)], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) return { rows: results, version, problem: `PyTorch run failed for ${c.model}: exit ${r.status}` };
    const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; rows: typeof results };
    version = parsed.torch;
    results.push(...parsed.rows);
  }
  return { version, rows: results };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const only = arg('--only');
  const out = path.resolve(arg('--out') ?? path.join(__dirname, 'results', 'backend.json'));
  const repeats = quick ? 2 : 5;
  // Enough steps per timing that one timing lasts about a second or more on this machine.
  const iters = (c: Config) => (quick ? 1 : c.model === 'efficientnet-b0' ? 1 : c.size >= 128 || c.model === 'galmorph-cnn' ? 2 : 4);
  const configs = CONFIGS.filter((c) => !only || c.model === only);

  const choice = await initBackend();
  console.log(`galmorph ${describeBackend(choice)}`);
  const ours = await galmorphRows(configs, repeats, iters);
  console.log('PyTorch reference (2 threads, jemalloc retain):');
  const ref = torchRows(configs, repeats, iters);
  if (ref.problem) console.warn(`  ${ref.problem}`);

  const rows = ours.map((g) => {
    const t = ref.rows.find((r) => r.model === g.model && r.size === g.size && r.phase === g.phase);
    return {
      model: g.model,
      size: g.size,
      phase: g.phase,
      batch: g.batch,
      galmorph_img_s: Number(g.img_s.toFixed(2)),
      torch_img_s: t ? Number(t.img_s.toFixed(2)) : null,
      ratio: t ? Number((g.img_s / t.img_s).toFixed(3)) : null,
      galmorph_runs: g.runs.map((v) => Number(v.toFixed(2))),
      micro_batch: configs.find((c) => c.model === g.model && c.size === g.size)?.microBatch ?? null,
    };
  });
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const result = {
    machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`,
    backend: choice.name,
    tfjs: tf.version.tfjs,
    torch: ref.version ?? null,
    torch_problem: ref.problem ?? null,
    date: new Date().toISOString(),
    protocol: `batch 32; ${repeats} timings of N steps after 2 warm-up steps, median; train = forward + backward + Adam on MSE to 34 outputs`,
    rows,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log('\n| model | size | phase | galmorph img/s | PyTorch img/s | ratio |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.size} | ${r.phase} | ${r.galmorph_img_s} | ${r.torch_img_s ?? 'n/a'} | ${r.ratio ?? 'n/a'} |`);
  }
  console.log(`\nwrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
