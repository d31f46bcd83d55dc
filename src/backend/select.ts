/**
 * Compute backend selection. galmorph codes against the `@tensorflow/tfjs` API only; the backend
 * under it is picked at run time, fastest first, because the fast ones need native libraries that
 * many machines cannot download:
 *   node-gpu (@tensorflow/tfjs-node-gpu, CUDA) → webgpu (@tensorflow/tfjs-backend-webgpu on Dawn,
 *   a hardware adapter only) → node (@tensorflow/tfjs-node, libtensorflow CPU)
 *   → onednn (the wasm backend with galmorph's oneDNN addon for convolutions, matrix products,
 *   pooling and batch norm; built at set-up from Debian's libdnnl-dev)
 *   → wasm (@tensorflow/tfjs-backend-wasm, XNNPACK + SIMD, ships inside its npm package) → cpu (pure JS).
 * `GALMORPH_BACKEND=<name>` forces one and fails loudly if it cannot be loaded (`webgpu` forced
 * also accepts a software adapter, Mesa's lavapipe).
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { installLeanGradients } from './lean-gradients';
import { wasmThreadCount, withWasmThreads } from './wasm-threads';
import { loadOnednn, onednnInfo, onednnThreadCount, registerOnednnKernels, setOnednnActive } from './onednn';
import { describeAdapter, prepareWebgpuBackend, watchWebgpuErrors, webgpuAdapter, WebgpuAdapterReport } from './webgpu';

/** Backend names galmorph understands, in default preference order. */
export const BACKEND_NAMES = ['node-gpu', 'webgpu', 'node', 'onednn', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** One way of getting a tfjs backend: what to load, and what tfjs calls it once registered. */
export interface BackendCandidate {
  name: BackendName;
  /** npm package that provides it (for messages). */
  packageName: string;
  /** tfjs's registry name for the backend this candidate registers. */
  tfjsName: string;
  /**
   * Loads the package and registers the backend; throws (with a reason) when unavailable.
   * `forced` is true when the user asked for exactly this backend.
   */
  load: (forced: boolean) => Promise<void>;
}

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was skipped or failed; empty when it loaded. */
  detail: string;
}

export interface BackendChoice {
  /** galmorph's name for the backend in use. */
  name: BackendName;
  /** tfjs's name for it (`tf.getBackend()`). */
  tfjsName: string;
  packageName: string;
  /** One sentence: why this backend was chosen. */
  reason: string;
  /** Every candidate tried, in order, with why the earlier ones were not used. */
  attempts: BackendAttempt[];
  /** Compute threads the backend uses, where it says (wasm: its XNNPACK thread pool). */
  threads?: number;
  /** webgpu: the adapter (GPU or software) it runs on. */
  adapter?: WebgpuAdapterReport;
}

function requireOptional(pkg: string): void {
  // Plain require on purpose: these packages are optional and may be absent or broken (a missing
  // libtensorflow makes tfjs-node throw at load), which must become a reason, not a crash.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(pkg);
}

/** Shortens a loader error to its first line, so `galmorph env` stays readable. */
function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Cannot find module/.test(msg)) return 'package not installed';
  return msg.split('\n')[0]!.slice(0, 200);
}

/**
 * How the wasm backend was started in this process (it starts once): threaded by plain wasm,
 * single-threaded when onednn came first.
 */
let wasmStart: 'threaded' | 'single' | undefined;

async function activate(tfjsName: string): Promise<void> {
  // The oneDNN kernels sit on the wasm backend: on only when onednn is the backend chosen.
  setOnednnActive(false);
  const ok = await tf.setBackend(tfjsName);
  if (!ok) throw new Error(`tfjs could not initialise the '${tfjsName}' backend`);
  await tf.ready();
  // Backend-independent: frees gradients during backprop instead of at its end.
  installLeanGradients();
}

/** The real candidates, in default order. */
export function defaultCandidates(): BackendCandidate[] {
  return [
    {
      name: 'node-gpu',
      packageName: '@tensorflow/tfjs-node-gpu',
      tfjsName: 'tensorflow',
      load: async () => {
        requireOptional('@tensorflow/tfjs-node-gpu');
        await activate('tensorflow');
      },
    },
    {
      name: 'webgpu',
      packageName: '@tensorflow/tfjs-backend-webgpu',
      tfjsName: 'webgpu',
      load: async (forced) => {
        requireOptional('@tensorflow/tfjs-backend-webgpu/package.json');
        // Checks the adapter first: without force, a software adapter is slower than wasm.
        await prepareWebgpuBackend(forced);
        await activate('webgpu');
        watchWebgpuErrors();
      },
    },
    {
      name: 'node',
      packageName: '@tensorflow/tfjs-node',
      tfjsName: 'tensorflow',
      load: async () => {
        requireOptional('@tensorflow/tfjs-node');
        await activate('tensorflow');
      },
    },
    {
      name: 'onednn',
      packageName: 'wasm+onednn',
      tfjsName: 'wasm',
      load: async () => {
        const native = loadOnednn();
        requireOptional('@tensorflow/tfjs-backend-wasm');
        registerWasmTrainingKernels();
        registerOnednnKernels();
        const threads = onednnThreadCount();
        if (threads) native.setThreads(threads);
        // A first start takes the single-threaded build (see onednn.ts).
        if (!wasmStart) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        await activate('wasm');
        wasmStart ??= 'single';
        setOnednnActive(true);
      },
    },
    {
      name: 'wasm',
      packageName: '@tensorflow/tfjs-backend-wasm',
      tfjsName: 'wasm',
      load: async () => {
        requireOptional('@tensorflow/tfjs-backend-wasm');
        // galmorph's gradient kernels make the wasm backend able to train conv nets.
        registerWasmTrainingKernels();
        const threads = wasmThreadCount();
        // Once onednn has started the single-threaded build, plain wasm is that build (its
        // kernels then run with the native ones switched off).
        if (threads > 1 && wasmStart !== 'single') await withWasmThreads(threads, () => activate('wasm'));
        else await activate('wasm');
        wasmStart ??= threads > 1 ? 'threaded' : 'single';
      },
    },
    {
      name: 'cpu',
      packageName: '@tensorflow/tfjs-backend-cpu',
      tfjsName: 'cpu',
      load: async () => activate('cpu'),
    },
  ];
}

function backendThreads(name: BackendName): number | undefined {
  if (name === 'onednn') return onednnInfo()?.threads;
  if (name !== 'wasm') return undefined;
  try {
    return (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
  } catch {
    return undefined;
  }
}

/** Checks a user-supplied backend name; the error lists the valid choices. */
export function parseBackendName(value: string): BackendName {
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`galmorph: unknown backend '${value}'. Valid choices: ${BACKEND_NAMES.join(', ')}.`);
}

/**
 * Tries the candidates in order (or only the forced one) and returns the first that loads.
 * Pure over its inputs, so tests can pass fake candidates.
 */
export async function selectBackend(
  candidates: BackendCandidate[],
  forced?: BackendName,
): Promise<BackendChoice> {
  const attempts: BackendAttempt[] = [];
  const pool = forced ? candidates.filter((c) => c.name === forced) : candidates;
  if (forced && pool.length === 0) {
    throw new Error(`galmorph: backend '${forced}' is not offered here. Valid choices: ${candidates.map((c) => c.name).join(', ')}.`);
  }
  for (const c of pool) {
    try {
      await c.load(forced !== undefined);
      attempts.push({ name: c.name, ok: true, detail: '' });
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.name}: ${a.detail}`);
      const reason = forced
        ? `forced by GALMORPH_BACKEND=${forced}`
        : skipped.length === 0
          ? 'first choice, loaded'
          : `fastest available (${skipped.join('; ')})`;
      const adapter = c.name === 'webgpu' ? webgpuAdapter() : undefined;
      return { name: c.name, tfjsName: c.tfjsName, packageName: c.packageName, reason, attempts, threads: backendThreads(c.name), ...(adapter ? { adapter } : {}) };
    } catch (err) {
      attempts.push({ name: c.name, ok: false, detail: firstLine(err) });
    }
  }
  if (forced) {
    const a = attempts[0]!;
    throw new Error(
      `galmorph: GALMORPH_BACKEND=${forced} was asked for, but it is not available: ${a.detail}. ` +
        `Unset GALMORPH_BACKEND to let galmorph choose, or install ${pool[0]!.packageName}.`,
    );
  }
  throw new Error(`galmorph: no compute backend could be loaded: ${attempts.map((a) => `${a.name}: ${a.detail}`).join('; ')}`);
}

let current: Promise<BackendChoice> | undefined;
let currentKey: string | undefined;

/**
 * The compute backend: chosen and activated on the first call, returned unchanged afterwards.
 * `prefer` (or, on the first call, `GALMORPH_BACKEND`) forces one backend; a later call with
 * another `prefer` switches to it. Without `prefer`, a later call never re-selects: library code
 * calls `initBackend()` and so keeps whatever backend the user chose.
 */
export function initBackend(prefer?: BackendName | string): Promise<BackendChoice> {
  if (prefer === undefined && current) return current;
  const requested = prefer ?? process.env.GALMORPH_BACKEND;
  const forced = requested && requested.length > 0 ? parseBackendName(requested) : undefined;
  const key = forced ?? 'auto';
  if (!current || currentKey !== key) {
    currentKey = key;
    current = selectBackend(defaultCandidates(), forced);
    // A failed selection must not be cached: the user may fix the environment and call again.
    current.catch(() => {
      if (currentKey === key) {
        current = undefined;
        currentKey = undefined;
      }
    });
  }
  return current;
}

/** For onednn: the library under it (`, oneDNN 2.6.3 avx2 OpenMP`); empty for the other backends. */
export function nativeDetail(choice: BackendChoice): string {
  const info = choice.name === 'onednn' ? onednnInfo() : undefined;
  return info ? `, oneDNN ${info.version} ${info.isa} ${info.runtime}` : '';
}

/** One line for logs and notebook headers. */
export function describeBackend(choice: BackendChoice): string {
  const threads = choice.threads ? `, ${choice.threads} thread${choice.threads > 1 ? 's' : ''}` : '';
  const adapter = choice.adapter ? `, ${describeAdapter(choice.adapter)}` : '';
  return `backend: ${choice.name} (${choice.packageName}${nativeDetail(choice)}, tfjs ${tf.version.tfjs}${threads}${adapter}) — ${choice.reason}`;
}
