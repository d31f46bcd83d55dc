/**
 * `npm run bench:backend`: forward and train-step images per second at batch 32 for galmorph's
 * chosen backend and for the equivalent PyTorch models, in one run on the same machine, with the
 * ratio galmorph / PyTorch per row. Writes bench/results/backend.json.
 *   npm run bench:backend -- --quick            smaller repeats (a smoke run)
 *   npm run bench:backend -- --only smallcnn    one model (or a comma-separated list)
 *   npm run bench:backend -- --out FILE.json    another output file
 *   --gpu                 the GPU comparison (scripts/gpu-bench.sh): batches 32 and 128, PyTorch on
 *                         CUDA (fp32, cuDNN autotuned), adaptive step counts, a GPU-time profile of
 *                         one train step per model; writes bench/results/backend-gpu.json
 *   --batches 32,128      batch sizes (default 32; --gpu: 32,128)
 *   --torch-device D      auto | cpu | cuda (default cpu; --gpu: cuda)
 *   --note TEXT           stored in the result (e.g. "software adapter, not a GPU")
 *   --deadline-s S        galmorph rows not started within S seconds are skipped (marked so)
 * Protocol, both sides: 2 warm-up steps, then REPEATS timings of ITERS steps each; the median
 * rate is reported. Train step = forward + backward + Adam update on an MSE loss to 34 targets.
 * Both sides wait for every step to finish (galmorph reads the loss or the output; PyTorch on
 * CUDA synchronises), as a training loop that logs its loss does.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as readline from 'node:readline';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/backend/select';
import { releaseWebgpuFreeBuffers, takeWebgpuError, webgpuBytesAllocated } from '../src/backend/webgpu';
import { buildEncoder, withDenseHead } from '../src/models/architectures';
import { adam } from '../src/training/optimizer';
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
  { model: 'efficientnet-b0', size: 224, batch: 32, phases: ['forward', 'train'] },
];

/** The GPU comparison's rows (issue 8): the small CNN at 64 and 128 px, the default galaxy encoder, EfficientNetB0. */
const GPU_CONFIGS: Config[] = [
  { model: 'smallcnn', size: 64, batch: 32, phases: ['forward', 'train'] },
  { model: 'smallcnn', size: 128, batch: 32, phases: ['forward', 'train'] },
  { model: 'galmorph-cnn', size: 96, batch: 32, phases: ['forward', 'train'] },
  { model: 'efficientnet-b0', size: 224, batch: 32, phases: ['forward', 'train'] },
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

/**
 * `iters` 0: as many steps per timing as fill about `targetS` seconds (from the second warm-up step).
 * `alternate` (the PyTorch side, CPU runs): timed right after each of galmorph's timings, with the
 * same step count, so that both see the same load on a shared machine; its rates go to `other`.
 */
async function measure(step: () => Promise<void>, batch: number, repeats: number, iters: number, targetS = 1, alternate?: (iters: number) => Promise<number>, other: number[] = []): Promise<number[]> {
  await step();
  const w = performance.now();
  await step();
  const stepMs = performance.now() - w;
  if (iters <= 0) iters = Math.min(50, Math.max(1, Math.ceil((targetS * 1000) / stepMs)));
  // A step of over 5 s (a slow adapter): two timings are enough to say so.
  if (stepMs > 5000) repeats = Math.min(repeats, 2);
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    for (let i = 0; i < iters; i++) await step();
    rates.push((batch * iters * 1000) / (performance.now() - t));
    if (alternate) other.push(await alternate(iters));
  }
  return rates;
}

interface GalmorphRow {
  model: string;
  size: number;
  phase: string;
  batch: number;
  img_s: number | null;
  runs: number[];
  micro_batch: number | null;
  /** CPU runs: PyTorch's rates, each timed right after the galmorph timing of the same index. */
  torch_runs?: number[];
  /** webgpu: MiB of GPU buffers tfjs held at the end of the row (tensors and its reuse pool). */
  gpu_mib?: number;
  error?: string;
}

/** Profile of one train step: GPU time (timestamp queries) against wall time, and the costliest programs. */
interface StepProfile {
  model: string;
  size: number;
  batch: number;
  wall_ms: number;
  gpu_kernel_ms: number;
  top_programs: { program: string; ms: number; count: number }[];
}

async function galmorphRows(configs: Config[], repeats: number, iters: (c: Config) => number, targetS: number, micro: boolean, deadline: number, torch?: TorchServer) {
  const rows: GalmorphRow[] = [];
  for (const c of configs) {
    if (performance.now() > deadline) {
      for (const phase of c.phases) rows.push({ model: c.model, size: c.size, phase, batch: c.batch, img_s: null, runs: [], micro_batch: null, error: 'skipped: past --deadline-s' });
      console.log(`  galmorph ${c.model} ${c.size}px batch ${c.batch}: skipped (past --deadline-s)`);
      continue;
    }
    const model = withDenseHead(buildEncoder(c.model, { size: c.size }), 34);
    const x = tf.randomNormal([c.batch, c.size, c.size, 3]);
    const y = tf.randomNormal([c.batch, 34]);
    const microBatch = micro ? c.microBatch : undefined;
    for (const phase of c.phases) {
      let step: () => Promise<void>;
      const optimizer = adam(1e-3);
      if (phase === 'forward') {
        step = async () => {
          const out = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
          await out.data();
          out.dispose();
        };
      } else {
        step = async () => {
          await trainStep(model, optimizer, x, y, (t, p) => tf.losses.meanSquaredError(t, p) as tf.Scalar, { microBatch });
        };
      }
      const label = `galmorph ${c.model} ${c.size}px batch ${c.batch} ${phase}`;
      try {
        const torchRuns: number[] = [];
        let alternate: ((n: number) => Promise<number>) | undefined;
        if (torch) {
          await torch.request({ cmd: 'phase', model: c.model, size: c.size, batch: c.batch, phase });
          alternate = async (n) => (c.batch * n) / (await torch.request({ cmd: 'run', iters: n })).seconds!;
        }
        const runs = await measure(step, c.batch, repeats, iters(c), targetS, alternate, torchRuns);
        const gpuError = takeWebgpuError();
        if (gpuError) throw new Error(`WebGPU error: ${gpuError}`);
        const gpuMib = webgpuBytesAllocated() / 2 ** 20;
        rows.push({ model: c.model, size: c.size, phase, batch: c.batch, img_s: median(runs), runs, micro_batch: microBatch ?? null, ...(torch ? { torch_runs: torchRuns } : {}), ...(gpuMib ? { gpu_mib: Math.round(gpuMib) } : {}) });
        const vs = torch ? `, PyTorch alternating ${median(torchRuns).toFixed(1)} img/s` : '';
        console.log(`  ${label}: ${median(runs).toFixed(1)} img/s${vs}${gpuMib ? ` (${gpuMib.toFixed(0)} MiB of GPU buffers)` : ''}`);
      } catch (err) {
        const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
        rows.push({ model: c.model, size: c.size, phase, batch: c.batch, img_s: null, runs: [], micro_batch: microBatch ?? null, error: msg });
        console.log(`  ${label}: FAILED — ${msg}`);
      }
      optimizer.dispose();
    }
    tf.dispose([x, y]);
    model.dispose();
    releaseWebgpuFreeBuffers();
  }
  return rows;
}

/**
 * One synchronous train step inside tf.time: on webgpu, kernelMs is the GPU time of every program
 * (timestamp queries) and wallMs the time until the results were back; the gap is dispatch overhead.
 */
async function profileStep(c: Config): Promise<StepProfile> {
  const model = withDenseHead(buildEncoder(c.model, { size: c.size }), 34);
  const x = tf.randomNormal([c.batch, c.size, c.size, 3]);
  const y = tf.randomNormal([c.batch, 34]);
  const optimizer: tf.Optimizer = adam(1e-3);
  const loss = (t: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(t, p) as tf.Scalar;
  for (let i = 0; i < 2; i++) await trainStep(model, optimizer, x, y, loss);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const info = await tf.time(() => {
    const { value, grads } = tf.variableGrads(() => loss(y, model.apply(x, { training: true }) as tf.Tensor), vars);
    optimizer.applyGradients(grads);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const byProgram = new Map<string, { ms: number; count: number }>();
  const extra = (info as unknown as { getExtraProfileInfo?: () => string }).getExtraProfileInfo?.() ?? '';
  for (const part of extra.split(', ').filter(Boolean)) {
    const i = part.lastIndexOf(': ');
    const name = part.slice(0, i);
    const ms = Number(part.slice(i + 2));
    const e = byProgram.get(name) ?? { ms: 0, count: 0 };
    e.ms += Number.isFinite(ms) ? ms : 0;
    e.count++;
    byProgram.set(name, e);
  }
  const top = [...byProgram.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)
    .map(([program, v]) => ({ program, ms: Number(v.ms.toFixed(3)), count: v.count }));
  optimizer.dispose();
  tf.dispose([x, y]);
  model.dispose();
  releaseWebgpuFreeBuffers();
  const kernelMs = typeof info.kernelMs === 'number' ? info.kernelMs : NaN;
  return { model: c.model, size: c.size, batch: c.batch, wall_ms: Number(info.wallMs.toFixed(2)), gpu_kernel_ms: Number(kernelMs.toFixed(2)), top_programs: top };
}

const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

interface TorchResult {
  version?: string;
  device?: string;
  threads?: number;
  mkldnn?: { available: boolean; enabled: boolean };
  rows: { model: string; size: number; phase: string; batch: number; img_s: number }[];
  problem?: string;
}

const PYTHON = process.env.GALMORPH_PYTHON ?? '/usr/bin/python3';

/** Why PyTorch cannot run, or undefined when it can. */
function torchProblem(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `PyTorch is not importable from ${PYTHON} (install Debian python3-torch python3-torchvision libjemalloc2)`;
}

/** PyTorch's environment: on the CPU 2 threads and jemalloc (retain), its best settings here. */
function torchEnv(device: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (device !== 'cuda') {
    Object.assign(env, { OMP_NUM_THREADS: '2', MKL_NUM_THREADS: '2' });
    if (fs.existsSync(JEMALLOC)) {
      env.LD_PRELOAD = JEMALLOC;
      env.MALLOC_CONF = 'retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1';
    } else {
      console.warn(`  (no ${JEMALLOC}: PyTorch runs with glibc malloc, which is 3-10x slower here; install libjemalloc2)`);
    }
  }
  return env;
}

interface TorchReply {
  seconds?: number;
  torch?: string;
  threads?: number;
  mkldnn?: { available: boolean; enabled: boolean };
}

/** PyTorch in one long-lived process (torch_backend.py --serve): CPU timings on request. */
class TorchServer {
  private readonly lines: AsyncIterator<string>;
  last: TorchReply = {};
  private constructor(private readonly proc: ReturnType<typeof spawn>) {
    this.lines = readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  }

  static start(): TorchServer {
    return new TorchServer(spawn(PYTHON, [path.join(__dirname, 'torch_backend.py'), '--serve'], { env: torchEnv('cpu'), stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  async request(cmd: Record<string, unknown>): Promise<TorchReply> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`the PyTorch process ended (exit ${this.proc.exitCode})`);
    const reply = JSON.parse(value as string) as TorchReply;
    if (reply.torch) this.last = reply;
    return reply;
  }

  close(): void {
    this.proc.stdin!.end();
  }
}

/** The PyTorch side, or a reason it could not run (never a made-up number). */
function torchRows(configs: Config[], repeats: number, iters: (c: Config) => number, device: string, targetS: number): TorchResult {
  const python = PYTHON;
  const problem = torchProblem();
  if (problem) return { rows: [], problem };
  const env = torchEnv(device);
  // PyTorch at its best: full batches, no micro-batching.
  const torchConfigs = configs.map((c) => ({ model: c.model, size: c.size, batch: c.batch, phases: c.phases, iters: iters(c) }));
  const results: TorchResult['rows'] = [];
  let version: string | undefined;
  let deviceName: string | undefined;
  let threads: number | undefined;
  let mkldnn: TorchResult['mkldnn'];
  // One process per config, so the iteration count can differ by model.
  for (const c of torchConfigs) {
    const r = spawnSync(python, [path.join(__dirname, 'torch_backend.py'), JSON.stringify([c]), String(repeats), String(c.iters), device, String(targetS)], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) return { rows: results, version, device: deviceName, problem: `PyTorch run failed for ${c.model} ${c.size}px batch ${c.batch}: exit ${r.status}` };
    const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; device: string; threads: number; mkldnn?: TorchResult['mkldnn']; rows: typeof results };
    version = parsed.torch;
    deviceName = parsed.device;
    threads = parsed.threads;
    mkldnn = parsed.mkldnn;
    results.push(...parsed.rows);
  }
  return { version, device: deviceName, threads, mkldnn, rows: results };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const gpu = process.argv.includes('--gpu');
  const only = arg('--only');
  const out = path.resolve(arg('--out') ?? path.join(__dirname, 'results', gpu ? 'backend-gpu.json' : 'backend.json'));
  const repeats = quick ? 2 : 5;
  const batches = (arg('--batches') ?? (gpu ? '32,128' : '32')).split(',').map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batches: positive integers, got ${arg('--batches')}`);
  const torchDevice = arg('--torch-device') ?? (gpu ? 'cuda' : 'cpu');
  // Seconds per timing for adaptive step counts (GPU runs: speeds unknown in advance).
  const targetS = quick ? 0.2 : 0.5;
  // CPU runs: enough steps per timing that one timing lasts about a second or more on the 2-core VM.
  const iters = (c: Config) =>
    gpu ? 0 : quick ? 1 : c.model === 'efficientnet-b0' ? 1 : c.size >= 128 || c.model === 'galmorph-cnn' ? 2 : 4;
  const configs = (gpu ? GPU_CONFIGS : CONFIGS)
    .filter((c) => !only || only.split(',').includes(c.model))
    .flatMap((c) => batches.map((batch) => ({ ...c, batch })));

  const choice = await initBackend();
  console.log(`galmorph ${describeBackend(choice)}`);
  // Micro-batches exist for the wasm heap (4 GB), which onednn's tensors live in too; other
  // backends take the whole batch, as PyTorch does.
  const micro = choice.tfjsName === 'wasm';
  const deadline = arg('--deadline-s') ? performance.now() + 1000 * Number(arg('--deadline-s')) : Infinity;
  const ours: GalmorphRow[] = [];
  let ref: TorchResult = { rows: [] };
  if (torchDevice === 'cpu') {
    // CPU: PyTorch in a process of its own, each of its timings right after galmorph's.
    ref.problem = torchProblem();
    const torch = ref.problem ? undefined : TorchServer.start();
    console.log(torch ? 'PyTorch reference (2 threads, jemalloc retain), timed alternately with galmorph:' : `  ${ref.problem}`);
    try {
      ours.push(...(await galmorphRows(configs, repeats, iters, targetS, micro, deadline, torch)));
    } finally {
      torch?.close();
    }
    if (torch) {
      ref = { version: torch.last.torch, device: 'cpu', threads: torch.last.threads, mkldnn: torch.last.mkldnn, rows: [] };
      for (const g of ours) if (g.torch_runs?.length) ref.rows.push({ model: g.model, size: g.size, phase: g.phase, batch: g.batch, img_s: median(g.torch_runs) });
    }
  } else {
    ours.push(...(await galmorphRows(configs, repeats, iters, targetS, micro, deadline)));
    console.log(`PyTorch reference (device ${torchDevice}):`);
    ref = torchRows(configs, repeats, iters, torchDevice, targetS);
    if (ref.problem) console.warn(`  ${ref.problem}`);
  }
  const profiles: StepProfile[] = [];
  if (gpu && choice.name === 'webgpu') {
    console.log('GPU time of one train step (timestamp queries) against wall time:');
    for (const c of configs.filter((k) => k.batch === batches[0])) {
      try {
        const p = await profileStep(c);
        profiles.push(p);
        console.log(`  ${c.model} ${c.size}px batch ${c.batch}: wall ${p.wall_ms} ms, GPU kernels ${p.gpu_kernel_ms} ms; top: ${p.top_programs.slice(0, 3).map((t) => `${t.program} ${t.ms} ms`).join(', ')}`);
      } catch (err) {
        console.log(`  ${c.model} ${c.size}px: profile failed — ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  const rows = ours.map((g) => {
    const t = ref.rows.find((r) => r.model === g.model && r.size === g.size && r.phase === g.phase && r.batch === g.batch);
    return {
      model: g.model,
      size: g.size,
      phase: g.phase,
      batch: g.batch,
      galmorph_img_s: g.img_s === null ? null : Number(g.img_s.toFixed(2)),
      torch_img_s: t ? Number(t.img_s.toFixed(2)) : null,
      ratio: t && g.img_s !== null ? Number((g.img_s / t.img_s).toFixed(3)) : null,
      galmorph_runs: g.runs.map((v) => Number(v.toFixed(2))),
      ...(g.torch_runs ? { torch_runs: g.torch_runs.map((v) => Number(v.toFixed(2))) } : {}),
      micro_batch: g.micro_batch,
      ...(g.gpu_mib !== undefined ? { gpu_mib: g.gpu_mib } : {}),
      ...(g.error ? { error: g.error } : {}),
    };
  });
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const result = {
    machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`,
    backend: choice.name,
    ...(choice.adapter ? { device: choice.adapter.name, adapter: choice.adapter } : {}),
    tfjs: tf.version.tfjs,
    torch: ref.version ?? null,
    torch_device: ref.device ?? null,
    torch_problem: ref.problem ?? null,
    torch_threads: ref.threads ?? null,
    torch_mkldnn: ref.mkldnn ?? null,
    galmorph_backend_line: describeBackend(choice),
    ...(arg('--note') ? { note: arg('--note') } : {}),
    date: new Date().toISOString(),
    protocol:
      `batch ${batches.join(' and ')}; ${repeats} timings of N steps after 2 warm-up steps, median` +
      (torchDevice === 'cpu' ? ' (each PyTorch timing, same N, right after the galmorph timing: both see the same load)' : '') +
      `${gpu ? ` (N adaptive: each timing about ${targetS} s)` : ''}; train = forward + backward + Adam on MSE to 34 outputs; ` +
      (ref.device === 'cpu' || (!ref.device && torchDevice === 'cpu') ? 'PyTorch on CPU, 2 threads' : `PyTorch on ${ref.device ?? torchDevice} (CUDA), float32 (TF32 off), cuDNN benchmark mode, synchronised every step`),
    rows,
    ...(profiles.length ? { step_profiles: profiles } : {}),
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log('\n| model | size | batch | phase | galmorph img/s | PyTorch img/s | ratio |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.size} | ${r.batch} | ${r.phase} | ${r.galmorph_img_s ?? 'failed'} | ${r.torch_img_s ?? 'n/a'} | ${r.ratio ?? 'n/a'} |`);
  }
  console.log(`\nwrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
