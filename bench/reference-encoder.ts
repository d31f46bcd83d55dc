/**
 * `npm run bench:reference-encoder`: an independent PyTorch encoder trained on the very vote counts
 * galmorph trains on, with the recipe of ../shared/notes/ring-calibration.md (a 4-block CNN, AdamW and
 * one-cycle, quarter-turns and flips, the whole image), then scored by `bench:representation` with
 * the same head as every galmorph start. Why: that note measured 0.716 at 79 rings under the honest
 * protocol outside the project; re-running its recipe here tells whether galmorph's recipe or the
 * data is what holds the representation back.
 *   --datasets A,B,…   vote datasets (default: the note's honest row: gz2-hart16-1000,gz1-sdss-4019,decals-rings-470)
 *   --exclude honest   votes left out, as `galmorph train --exclude` (default honest; 'none' for all)
 *   --epochs N --size PX --seed S --threads T   (defaults 6, 96, 0, 2)
 *   --out DIR          default out/reference-encoder: votes.json, features CSV, train log, scores
 * Trains on the `galmorph train` split's training galaxies (splitIndices, seed S, 80/10/10), so it
 * never sees the GZ2 test galaxies; needs /usr/bin/python3 with torch and torchvision (bench-setup.sh).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AnswerSpace } from '../src/models/galaxy-model';
import { outDir, projectRoot } from '../src/paths';
import { loadVoteDataset } from '../src/schemas/vote-datasets';
import { EXCLUSION_PRESET_NAMES, ExclusionPreset, resolveExclusion } from '../src/training/exclusion';
import { assemble, splitIndices } from '../src/training/vote-data';
import { openDatasetCatalog } from '../src/data/manifests';

const RINGS = 'decals-rings-470';
const PYTHON = process.env.GALMORPH_PYTHON ?? '/usr/bin/python3';
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`galmorph: ${flag} takes a positive integer, got '${value}'`);
  return n;
}

function main() {
  const { values } = parseArgs({
    options: {
      datasets: { type: 'string', default: 'gz2-hart16-1000,gz1-sdss-4019,decals-rings-470' },
      exclude: { type: 'string', default: 'honest' },
      epochs: { type: 'string', default: '6' },
      size: { type: 'string', default: '96' },
      seed: { type: 'string', default: '0' },
      threads: { type: 'string', default: '2' },
      out: { type: 'string', default: path.join(outDir(), 'reference-encoder') },
    },
  });
  if (values.exclude !== 'none' && !EXCLUSION_PRESET_NAMES.includes(values.exclude as ExclusionPreset)) {
    throw new Error(`galmorph: --exclude takes ${[...EXCLUSION_PRESET_NAMES, 'none'].join(' or ')}, got '${values.exclude}'`);
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`galmorph: --seed takes a non-negative integer, got '${values.seed}'`);
  const out = path.resolve(values.out);
  fs.mkdirSync(out, { recursive: true });

  const datasets = values.datasets.split(',').filter(Boolean).map(loadVoteDataset);
  const space = AnswerSpace.fromNames([...new Set(datasets.map((d) => d.schema))]);
  const set = assemble(datasets, space, values.exclude === 'none' ? null : resolveExclusion(values.exclude as ExclusionPreset));
  const { train } = splitIndices(set.ids.length, seed, { val: 0.1, test: 0.1 });
  const rings = openDatasetCatalog(RINGS);
  const votesFile = path.join(out, 'votes.json');
  fs.writeFileSync(votesFile, JSON.stringify({
    datasets: set.datasets,
    exclude: values.exclude,
    groups: space.groups,
    answers: space.answers.map((a) => a.column),
    train: train.map((i) => ({ file: set.files[i], counts: Array.from(set.counts.subarray(i * space.size, (i + 1) * space.size)) })),
    rings: rings.rows.map((r) => ({ id: String(r[rings.idCol]), file: rings.imagePath(r) })),
  }));
  const features = path.join(out, `features-${path.basename(out)}.csv`);
  console.error(`${train.length} training galaxies of ${set.datasets.join(', ')} (exclude: ${values.exclude}) -> ${path.relative(process.cwd(), votesFile)}`);

  const torch = spawnSync(PYTHON, [
    path.join(__dirname, 'torch_reference_encoder.py'), votesFile, features,
    '--epochs', String(positiveInteger(values.epochs, '--epochs')), '--size', String(positiveInteger(values.size, '--size')),
    '--seed', String(seed), '--threads', String(positiveInteger(values.threads, '--threads')),
  ], {
    stdio: 'inherit',
    // Fresh large allocations page-fault heavily on these VMs without jemalloc's retained pages.
    env: { ...process.env, ...(fs.existsSync(JEMALLOC) ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'retain:true' } : {}) },
  });
  if (torch.error || torch.status !== 0) {
    throw new Error(`galmorph: the PyTorch reference failed (${torch.error?.message ?? `exit ${torch.status}`}); it needs ${PYTHON} with torch and torchvision: bash scripts/bench-setup.sh`);
  }
  // The same head, tuning and similarity search as every galmorph start, beside galmorph-honest.
  const scored = spawnSync(process.execPath, [
    path.join(projectRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(__dirname, 'representation.ts'),
    '--starts', 'galmorph', '--features', features, '--out', path.join(out, 'representation.json'),
  ], { stdio: 'inherit' });
  if (scored.status !== 0) throw new Error(`galmorph: scoring ${features} failed (exit ${scored.status})`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
