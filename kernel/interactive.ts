/**
 * What `import "galmorph/kernel"` sets up inside the tslab kernel, so that long galmorph calls
 * behave as an astronomer expects without passing anything:
 *   - a live progress bar (kernel/progress.ts) for every long call (the library's ambient listener);
 *   - Kernel > Interrupt stops the running galmorph call at its next step: tslab turns SIGINT into
 *     "Interrupted asynchronously" for the cell but leaves the call's promise running on; galmorph
 *     adds its own SIGINT listener that aborts the ambient AbortSignal every long loop checks
 *     between batches, runs and steps, then gives the next call a fresh one;
 *   - errors shown message first (kernel/errors.ts), and an interrupt says what was finished.
 * Nothing is installed outside tslab (tests, scripts, the CLI).
 */
import { InterruptedError, setAmbientHooks } from '../src/progress';
import { ProgressBoard, UpdatableDisplay } from './progress';
import { keepRendererAlive } from '../src/plots/export';
import { installErrorDisplay } from './errors';

interface TslabPublic {
  newDisplay(): UpdatableDisplay & { raw(contentType: string, b: string): unknown };
  display: { html(s: string): void };
}

interface TslabJupyter {
  /** Set by tslab for each execute request: sends display data as output of that cell. */
  lastWriteDisplayData?: (data: { data: Record<string, string>; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void;
}

/** True inside the tslab kernel (its executor sets `__tslab__` before running any cell). */
export function inTslab(): boolean {
  return typeof (globalThis as Record<string, unknown>).__tslab__ === 'object';
}

let board: ProgressBoard | undefined;
let controller = new AbortController();
/** What the last interrupt stopped, for the message of the interrupted cell. */
let lastInterrupt: { at: number; stopped: string[] } | undefined;

/** The kernel's progress board (undefined outside tslab). */
export function kernelProgress(): ProgressBoard | undefined {
  return board;
}

/**
 * Aborts the running galmorph call (what Kernel > Interrupt does) and gives later calls a fresh
 * signal. Returns what was running, one line per bar.
 */
export function interruptGalmorph(): string[] {
  const stopped = (board?.interrupting() ?? []).map((b) => `${b.label} at ${b.done} of ${b.total} ${b.unit}`);
  controller.abort(new InterruptedError('the running call', 0, 0, 'steps'));
  controller = new AbortController();
  lastInterrupt = { at: Date.now(), stopped };
  return stopped;
}

const INSTALLED = Symbol.for('galmorph.kernel');

/** Installs the bar, the interrupt and the error display; only inside tslab, once per kernel. */
export function installKernelHooks(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (!inTslab() || g[INSTALLED]) return;
  g[INSTALLED] = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tslab = require('tslab') as TslabPublic;
  // tslab's internal module: the per-cell display writer identifies the running cell, and sends
  // several MIME types at once. Guarded: a tslab without it still gets bars, in one display.
  let jupyter: TslabJupyter = {};
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    jupyter = require('tslab/dist/jupyter') as TslabJupyter;
  } catch {
    jupyter = {};
  }
  board = new ProgressBoard({ open: () => tslab.newDisplay(), cell: () => jupyter.lastWriteDisplayData });
  setAmbientHooks({ progress: board.listener, signal: () => controller.signal });
  process.on('SIGINT', () => void interruptGalmorph());
  // A notebook's saves are cells apart: one Chromium serves them all instead of one per save().
  keepRendererAlive();
  installErrorDisplay({
    show: (data) => {
      if (jupyter.lastWriteDisplayData) jupyter.lastWriteDisplayData({ data, metadata: { galmorph: 'error' }, transient: {} }, false);
      else tslab.display.html(data['text/html']);
    },
    note: (err) => {
      const interrupted = err instanceof Error && err.message === 'Interrupted asynchronously';
      if (!interrupted && !(err instanceof InterruptedError)) return undefined;
      const recent = lastInterrupt && Date.now() - lastInterrupt.at < 60_000 ? lastInterrupt.stopped : [];
      const what = recent.length ? `Stopped: ${recent.join('; ')}. ` : '';
      return `${what}Finished work is kept (cached features and finished parts are on disk); the kernel is ready for the next cell.`;
    },
  });
}
