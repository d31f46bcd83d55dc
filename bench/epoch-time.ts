/**
 * Wall time of one `galmorph train` epoch (the same training loop, src/training/train-galaxy.ts)
 * at 96 px on every shared vote-labelled galaxy (GZ2, Kaggle GZ2, GZ DECaLS rings, GZ1), on the
 * chosen backend:
 *   node -r tsx/cjs bench/epoch-time.ts [--steps 0] [--out bench/results/epoch-<backend>.json]
 * `--steps 0` (the default) times the whole epoch as it runs. A full epoch is long on plain wasm,
 * so `--steps N` runs N steps of it and extrapolates, saying so: full epoch = steps of the epoch ×
 * median step time + the epoch's validation and checkpoint.
 * The first two steps (warm-up: primitive creation, allocation) are left out of the median; image
 * decoding happens once, before the first epoch, and is reported apart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../src/backend/select';
import { trainGalaxyModel } from '../src/training/train-galaxy';
import { loadVoteDataset } from '../src/schemas/vote-datasets';

const DATASETS = ['gz2-hart16-1000', 'gz2-kaggle-5000', 'decals-rings-470', 'gz1-sdss-4019'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function main() {
  const choice = await initBackend();
  const steps = Number(arg('--steps', '0'));
  const full = steps === 0;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'galmorph-epoch-'));
  const stamps: number[] = [];
  const lines: string[] = [];
  const t0 = performance.now();
  await trainGalaxyModel({
    datasets: DATASETS.map((id) => loadVoteDataset(id)),
    out,
    model: { arch: 'galmorph-cnn', size: 96, channels: 3, dropout: 0.25 },
    epochs: 1,
    batchSize: 32,
    ...(full ? {} : { maxStepsPerEpoch: steps }),
    onStep: () => stamps.push(performance.now()),
    log: (l) => lines.push(l),
  });
  const split = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8')) as { train: string[]; val: string[] };
  const record = JSON.parse(fs.readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').trim().split('\n')[0]!) as { seconds: number };
  const stepS = stamps.slice(1).map((t, i) => (t - stamps[i]!) / 1000);
  const timed = stepS.slice(2).sort((a, b) => a - b);
  const median = timed[Math.floor(timed.length / 2)]!;
  const epochSteps = Math.ceil(split.train.length / 32);
  // The epoch record's seconds: its steps, then validation and the checkpoint. The first step's
  // start is not observed: its time is taken as the second step's.
  const stepsTotal = (stamps.at(-1)! - stamps[0]!) / 1000 + (stepS[0] ?? 0);
  const afterSteps = Math.max(record.seconds - stepsTotal, 0);
  const result = {
    backend: describeBackend(choice),
    date: new Date().toISOString(),
    datasets: DATASETS,
    galaxies: { train: split.train.length, val: split.val.length },
    arch: 'galmorph-cnn',
    size: 96,
    batch: 32,
    steps_run: stamps.length,
    epoch_steps: epochSteps,
    median_step_s: Number(median.toFixed(3)),
    step_s: full ? undefined : stepS.map((s) => Number(s.toFixed(3))),
    validation_and_checkpoint_s: Number(afterSteps.toFixed(1)),
    decode_and_setup_s: Number(((stamps[0]! - t0) / 1000 - (stepS[0] ?? 0)).toFixed(1)),
    ...(full
      ? { epoch_s: Number(record.seconds.toFixed(0)), note: `the whole epoch measured: ${stamps.length} steps, validation and checkpoint (train-log.jsonl's seconds)` }
      : {
          epoch_s_extrapolated: Number((epochSteps * median + afterSteps).toFixed(0)),
          note: `extrapolated from ${stamps.length} of the epoch's ${epochSteps} steps (median of steps 3-${stamps.length}) plus the measured validation and checkpoint`,
        }),
  };
  fs.rmSync(out, { recursive: true, force: true });
  const file = arg('--out', path.join(__dirname, 'results', `epoch-${choice.name}.json`));
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
