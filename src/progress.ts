/**
 * Progress and interruption of long calls, one convention for the whole library.
 *
 * Long loops (the inference loop of src/data/batches.ts, training steps, the learning curve's
 * runs) report `ProgressEvent`s and check an AbortSignal between steps. A caller can pass its own
 * listener and signal; when it passes none, the loop uses the *ambient* ones an environment has
 * installed: the notebook kernel (galmorph/kernel) installs a live bar and a signal that Kernel >
 * Interrupt aborts, the CLI installs cli-progress bars. So a notebook cell that calls
 * `gm.encode(encoder, catalog)` shows a bar and can be interrupted without passing anything.
 */

/** `done` of `total` units of the work named `label` (e.g. "encode gz2-hart16-1000", 320 of 1000 images). */
export interface ProgressEvent {
  /** What is running; events with the same label update the same bar. */
  label: string;
  done: number;
  total: number;
  /** What is counted ("images", "steps", "runs"). */
  unit?: string;
  /** A short note shown beside the bar (e.g. the last loss). */
  note?: string;
  /** The loop stopped here because its signal was aborted (Kernel > Interrupt). */
  interrupted?: boolean;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** What an environment provides to calls that were given no listener or signal of their own. */
export interface AmbientHooks {
  progress?: ProgressListener;
  /** The signal a call starting now should obey (read once, when the call starts). */
  signal?: () => AbortSignal | undefined;
}

let ambient: AmbientHooks = {};

/** Installs the ambient hooks (the notebook kernel, the CLI, tests); returns the previous ones. */
export function setAmbientHooks(hooks: AmbientHooks): AmbientHooks {
  const prev = ambient;
  ambient = hooks;
  return prev;
}

/** The listener a loop reports to: its caller's, else the ambient one (else none). */
export function progressListener(own?: ProgressListener): ProgressListener | undefined {
  return own ?? ambient.progress;
}

/** The signal a loop checks between steps: its caller's, else the ambient one (else none). */
export function abortSignal(own?: AbortSignal): AbortSignal | undefined {
  return own ?? ambient.signal?.();
}

/** What a loop needs while it runs: report progress, and stop between steps when interrupted. */
export interface Tracker {
  report(done: number, total: number, note?: string): void;
  /** Between two steps: when the signal is aborted, reports the stop and throws (see InterruptedError). */
  check(done: number, total: number): void;
}

/**
 * A loop's tracker for the work named `label`, counting `unit`: its caller's listener and signal,
 * else the ambient ones, read once here (a call started after an interrupt is not interrupted).
 */
export function track(label: string, unit: string, own: { progress?: ProgressListener; signal?: AbortSignal } = {}): Tracker {
  const listener = progressListener(own.progress);
  const signal = abortSignal(own.signal);
  return {
    report: (done, total, note) => listener?.({ label, done, total, unit, ...(note === undefined ? {} : { note }) }),
    check: (done, total) => {
      if (!signal?.aborted) return;
      // A caller's own reason (anything but the plain AbortError) is kept, as AbortSignal.throwIfAborted would.
      const reason: unknown = signal.reason;
      if (reason instanceof Error && reason.name !== 'AbortError' && !(reason instanceof InterruptedError)) throw reason;
      listener?.({ label, done, total, unit, interrupted: true });
      throw new InterruptedError(label, done, total, unit);
    },
  };
}

/** Thrown by a loop whose signal was aborted: says what was finished. */
export class InterruptedError extends Error {
  constructor(
    readonly label: string,
    readonly done: number,
    readonly total: number,
    readonly unit: string,
  ) {
    super(`galmorph: ${label} interrupted after ${done} of ${total} ${unit}`);
    this.name = 'InterruptedError';
  }
}
