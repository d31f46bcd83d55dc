/**
 * The terminal's progress bars: cli-progress driven by the library's ProgressEvents
 * (src/progress.ts), the same events that drive the notebook's bar (galmorph/kernel). One bar per
 * label, created on its first event.
 */
import { MultiBar, Presets, SingleBar } from 'cli-progress';
import type { ProgressEvent, ProgressListener } from '../progress';

export interface CliBars {
  listener: ProgressListener;
  /** A `(done, total)` callback for options that take one, reporting under `label`. */
  callback(label: string, unit: string): (done: number, total: number) => void;
  /** Prints a line above the bars (on a terminal) or as a plain line (CI logs). */
  log(line: string): void;
  stop(): void;
}

/** Bars on stderr; off a terminal, cli-progress prints a plain line every 10 s instead. */
export function cliBars(): CliBars {
  const tty = process.stderr.isTTY === true;
  const bars = new MultiBar(
    { format: '{label} [{bar}] {value}/{total} {unit} {note}', stream: process.stderr, noTTYOutput: !tty, notTTYSchedule: 10_000, hideCursor: true },
    Presets.shades_classic,
  );
  const byLabel = new Map<string, SingleBar>();
  const listener = (e: ProgressEvent) => {
    const payload = { label: e.label, unit: e.unit ?? '', note: e.note ?? '' };
    let bar = byLabel.get(e.label);
    if (!bar) {
      bar = bars.create(e.total, e.done, payload);
      byLabel.set(e.label, bar);
    }
    bar.setTotal(e.total);
    bar.update(e.done, payload);
  };
  return {
    listener,
    callback: (label, unit) => (done, total) => listener({ label, done, total, unit }),
    // MultiBar.log only prints on a terminal; elsewhere (CI logs, notebooks) plain lines.
    log: (line) => (tty ? bars.log(`${line}\n`) : console.error(line)),
    stop: () => bars.stop(),
  };
}
