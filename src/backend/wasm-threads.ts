/**
 * Multi-threaded wasm in Node. tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a
 * pthreadpool) but refuses it in Node, because it hands Emscripten its thread worker script and its
 * main script as Blob URLs, which Node's worker_threads cannot load. Emscripten's Node support is
 * otherwise in the build. During the backend's initialisation this module:
 *   - records the source text of Blobs made from strings, and turns their object URLs into
 *     temporary files that worker_threads can start;
 *   - patches the worker script so that, handed the main-script Blob, it loads that script's file;
 *   - unrefs the pthread workers (idle and running) so that scripts still exit when done;
 *   - reports 2x the wanted thread count as logical cores while the module starts: the backend
 *     assumes two hyperthreads per core and uses half the logical cores, which on a 2-vCPU
 *     machine is one thread.
 * Opt-in through `GALMORPH_WASM_THREADS` (a count; 1 keeps the single-threaded build).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as workerThreads from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

const MAIN_SCRIPT_ENV = 'GALMORPH_WASM_MAIN_SCRIPT';
// The worker's Node shim evaluates `fs.readFileSync(f)`; handed the main-script Blob, the worker
// makes it an object URL first, which Node's fs cannot open.
const IMPORT_SCRIPTS = 'importScripts:function(f){';
const IMPORT_SCRIPTS_PATCHED = `importScripts:function(f){if(typeof f!=="string"||f.startsWith("blob:"))f=process.env.${MAIN_SCRIPT_ENV};`;

/**
 * Threads for the wasm backend: `GALMORPH_WASM_THREADS` if set, else `GALMORPH_THREADS` (the
 * thread count of every CPU backend), else one per logical core (at most 8, the size of the
 * backend's worker pool).
 */
export function wasmThreadCount(): number {
  const name = process.env.GALMORPH_WASM_THREADS ? 'GALMORPH_WASM_THREADS' : 'GALMORPH_THREADS';
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`galmorph: ${name} must be an integer from 1 to 8, got '${raw}'`);
    return n;
  }
  return Math.min(Math.max(os.cpus().length, 1), 8);
}

/**
 * The folder generated worker scripts are cached in: `$TMPDIR/galmorph-wasm-<uid>`, created mode
 * 0700 and used only when it is a real directory owned by this user that nobody else can write.
 * Anything else there (another user's folder, a symlink, a group- or world-writable folder) is
 * never trusted: a fresh private folder (mkdtemp, 0700) is used instead.
 */
let fallbackDir: string | undefined;
export function workerCacheDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = path.join(os.tmpdir(), `galmorph-wasm-${uid ?? 'user'}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  const private_ = st.isDirectory() && !st.isSymbolicLink() && (uid === undefined || (st.uid === uid && (st.mode & 0o077) === 0));
  if (private_) return dir;
  fallbackDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'galmorph-wasm-'));
  return fallbackDir;
}

/**
 * Writes `text` to a content-addressed file in the private cache folder and returns its path. A
 * file already there is used only when its bytes hash to its name (the full sha256); otherwise
 * it is replaced atomically, so a tampered or truncated script never runs.
 */
export function writeTemp(text: string, dir: string = workerCacheDir()): string {
  const hash = crypto.createHash('sha256').update(text).digest('hex');
  const file = path.join(dir, `${hash}.js`);
  let intact = false;
  try {
    const st = fs.lstatSync(file);
    intact = st.isFile() && crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') === hash;
  } catch {
    intact = false;
  }
  if (!intact) {
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  }
  return file;
}

/**
 * Runs `init` (the wasm backend's initialisation) with the Blob/Worker shims in place, and the
 * threaded build enabled with `threads` threads.
 */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);

  const OriginalBlob = globalThis.Blob;
  const originalCreateObjectURL = URL.createObjectURL;
  const sources = new WeakMap<Blob, string>();
  class SourceBlob extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) sources.set(this, (parts as string[]).join(''));
    }
  }
  globalThis.Blob = SourceBlob as typeof Blob;
  URL.createObjectURL = (obj: Blob) => {
    const text = sources.get(obj);
    if (text === undefined) return originalCreateObjectURL(obj);
    return writeTemp(text.includes(IMPORT_SCRIPTS) ? text.replace(IMPORT_SCRIPTS, IMPORT_SCRIPTS_PATCHED) : text);
  };
  // Emscripten takes worker_threads.Worker when its module initialises: unref every pool worker.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require('node:worker_threads') as { Worker: typeof workerThreads.Worker };
  const OriginalWorker = wt.Worker;
  class UnrefWorker extends OriginalWorker {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      super(filename, options);
      this.unref();
    }
  }
  try {
    wt.Worker = UnrefWorker;
  } catch {
    // a frozen module namespace: workers stay referenced (scripts then need process.exit)
  }
  // The module object itself (an `import * as` namespace is read-only), as Emscripten requires it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mutableOs = require('node:os') as { cpus: typeof os.cpus };
  const originalCpus = mutableOs.cpus;
  mutableOs.cpus = () => {
    const real = originalCpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]!);
  };
  // tfjs passes the main script as a Blob it builds from the factory's source; the patched worker
  // reads it from this file instead.
  const mainBlobText = await captureMainScript();
  if (mainBlobText) process.env[MAIN_SCRIPT_ENV] = writeTemp(mainBlobText);
  try {
    const result = await init();
    // XNNPACK's pool threads run for the life of the process and Emscripten refs the workers
    // that run them: unref those too, or no script using galmorph would ever exit.
    const pthreads = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers?: { unref?: () => void }[] } } }).wasm?.PThread;
    for (const w of pthreads?.runningWorkers ?? []) w.unref?.();
    return result;
  } finally {
    mutableOs.cpus = originalCpus;
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
    try {
      wt.Worker = OriginalWorker;
    } catch {
      // see above
    }
  }
}

/** The main script tfjs will hand to its workers: `var WasmBackendModuleThreadedSimd = <factory>`. */
async function captureMainScript(): Promise<string | undefined> {
  const file = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(file) as ((...a: unknown[]) => unknown) & { default?: (...a: unknown[]) => unknown };
  const fn = factory.default ?? factory;
  return typeof fn === 'function' ? `var WasmBackendModuleThreadedSimd = ${fn.toString()}` : undefined;
}
