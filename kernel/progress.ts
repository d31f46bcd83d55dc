/**
 * The notebook's progress bar: the library's ProgressEvents (src/progress.ts) shown as one live
 * display per cell, updated in place through a Jupyter display id (tslab's `newDisplay`, which
 * sends `update_display_data`). Each label is a line: done/total, rate, time left, a note. Nested
 * work (a learning curve's runs and the features they need) shows as lines of the same display.
 */
import type { ProgressEvent } from '../src/progress';

/** A display whose later calls replace what it showed (a Jupyter display id). */
export interface UpdatableDisplay {
  html(s: string): void;
}

export interface BarState {
  label: string;
  done: number;
  total: number;
  unit: string;
  note: string;
  /** When the first event of this bar arrived, and its `done` then (the rate counts from there). */
  startedAt: number;
  startDone: number;
  updatedAt: number;
  /** 'interrupting': Kernel > Interrupt was pressed and the loop has not reached its next check yet. */
  state: 'running' | 'done' | 'interrupting' | 'interrupted';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 75 s → "1:15", 3725 s → "1:02:05". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Units per second since the bar's first event (undefined until something was done). */
export function barRate(b: BarState, now = b.updatedAt): number | undefined {
  const seconds = (now - b.startedAt) / 1000;
  const n = b.done - b.startDone;
  return seconds > 0 && n > 0 ? n / seconds : undefined;
}

/** One line of text per bar (the display's text/plain twin, and what an interrupt reports). */
export function barText(b: BarState): string {
  const rate = barRate(b);
  const parts = [`${b.label}: ${b.done}/${b.total} ${b.unit}`];
  if (b.state === 'interrupted') parts.push('interrupted');
  else if (b.state === 'interrupting') parts.push('interrupting at the next step');
  else if (b.state === 'done') parts.push(`done in ${formatDuration((b.updatedAt - b.startedAt) / 1000)}`);
  else if (rate) parts.push(`${formatRate(rate)} ${b.unit}/s`, `${formatDuration((b.total - b.done) / rate)} left`);
  if (b.note) parts.push(b.note);
  return parts.join(', ');
}

function formatRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/** HTML for a set of bars (pure, for tests and the live display). */
export function progressHtml(bars: readonly BarState[]): string {
  const rows = bars
    .map((b) => {
      const frac = b.total > 0 ? Math.min(1, b.done / b.total) : 0;
      const colour = b.state === 'interrupted' || b.state === 'interrupting' ? '#c0392b' : b.state === 'done' ? '#2e7d32' : '#1f77b4';
      const rate = barRate(b);
      const right =
        b.state === 'interrupted'
          ? 'interrupted'
          : b.state === 'interrupting'
            ? 'interrupting…'
            : b.state === 'done'
              ? `done in ${formatDuration((b.updatedAt - b.startedAt) / 1000)}`
              : rate
                ? `${formatRate(rate)} ${esc(b.unit)}/s · ${formatDuration((b.total - b.done) / rate)} left`
                : '';
      return (
        `<div class="galmorph-progress-row" data-label="${esc(b.label)}" data-done="${b.done}" data-total="${b.total}" data-state="${b.state}" ` +
        `style="display:flex;align-items:center;gap:8px;font:12px sans-serif;margin:2px 0">` +
        `<span style="min-width:180px;font-weight:600">${esc(b.label)}</span>` +
        `<span style="display:inline-block;width:260px;height:12px;background:#e8e8e8;border-radius:6px;overflow:hidden">` +
        `<span style="display:block;height:100%;width:${(frac * 100).toFixed(1)}%;background:${colour}"></span></span>` +
        `<span class="galmorph-progress-count" style="font-variant-numeric:tabular-nums">${b.done}/${b.total} ${esc(b.unit)}</span>` +
        `<span class="galmorph-progress-state" style="color:${b.state === 'running' ? '#555' : colour}">${right}</span>` +
        (b.note ? `<span style="color:#777">${esc(b.note)}</span>` : '') +
        `</div>`
      );
    })
    .join('');
  return `<div class="galmorph-progress">${rows}</div>`;
}

export interface ProgressBoardOptions {
  /** Opens a new updatable display (tslab's newDisplay in the kernel; tests give their own). */
  open: () => UpdatableDisplay;
  /** Identifies the running cell: a change starts a new display. Default: never changes. */
  cell?: () => unknown;
  /** At most one redraw per this many ms (the last state is always drawn). Default 250. */
  throttleMs?: number;
  now?: () => number;
}

/**
 * The bars of the running cell. A new display starts when the cell changes, or when every bar
 * of the current one has finished and new work begins.
 */
export class ProgressBoard {
  private bars = new Map<string, BarState>();
  private display?: UpdatableDisplay;
  private cell: unknown;
  private lastDraw = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private readonly now: () => number;

  constructor(private readonly options: ProgressBoardOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The library's listener (install with setAmbientHooks). */
  readonly listener = (e: ProgressEvent): void => {
    const now = this.now();
    const cell = this.options.cell?.();
    const allFinished = [...this.bars.values()].every((b) => b.state !== 'running');
    // The same label again after it finished is a new call; after 'interrupting' it is the loop's own stop.
    const state = this.bars.get(e.label)?.state;
    const restarted = state === 'done' || state === 'interrupted';
    if (!this.display || cell !== this.cell || (allFinished && (restarted || !this.bars.has(e.label)))) {
      this.flush();
      this.bars = new Map();
      this.display = undefined;
      this.cell = cell;
    }
    const prev = this.bars.get(e.label);
    const bar: BarState = prev ?? { label: e.label, done: e.done, total: e.total, unit: e.unit ?? '', note: '', startedAt: now, startDone: e.done, updatedAt: now, state: 'running' };
    bar.done = e.done;
    bar.total = e.total;
    bar.unit = e.unit ?? bar.unit;
    if (e.note !== undefined) bar.note = e.note;
    bar.updatedAt = now;
    if (e.interrupted) bar.state = 'interrupted';
    else if (bar.state === 'running' && e.total > 0 && e.done >= e.total) bar.state = 'done';
    this.bars.set(e.label, bar);
    const important = !prev || bar.state !== 'running';
    this.draw(important);
  };

  /** Kernel > Interrupt was pressed: running bars say so at once, before their loop stops. */
  interrupting(): BarState[] {
    const running = [...this.bars.values()].filter((b) => b.state === 'running');
    for (const b of running) b.state = 'interrupting';
    if (running.length > 0) this.draw(true);
    return running.map((b) => ({ ...b }));
  }

  /** The current bars (copies). */
  snapshot(): BarState[] {
    return [...this.bars.values()].map((b) => ({ ...b }));
  }

  private draw(force: boolean): void {
    const now = this.now();
    const wait = (this.options.throttleMs ?? 250) - (now - this.lastDraw);
    if (!force && wait > 0) {
      // Draw the latest state later, so a bar never stays behind after a burst of events.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.draw(true);
      }, wait);
      this.timer.unref?.();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastDraw = now;
    this.display ??= this.options.open();
    this.display.html(progressHtml([...this.bars.values()]));
  }

  private flush(): void {
    if (this.timer && this.display) this.draw(true);
  }
}
