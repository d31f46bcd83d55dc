/**
 * How a failing cell shows its error in the notebook: the message first, in red, and the stack
 * behind a details toggle, in the TypeScript sources (src/*.ts, through dist/'s source maps) with
 * tslab's and Node's own frames left out, and never the excerpt of compiled dist/ code that Node
 * puts on top of a stack thrown through `vm` ("dist/src/data/catalog.js:202 / throw new Error(...) / ^").
 *
 * Where: tslab reports a failing cell with `console.error(err)` (executor.js), a stderr stream of
 * `util.inspect(err)`. galmorph gives Error.prototype a `util.inspect.custom` that, only when tslab's
 * executor is the one printing (not a `console.error` in a cell), shows the error as a display
 * (text/html and a text/plain twin) and prints nothing to stderr. Installed by the kernel module
 * only inside tslab (installErrorDisplay), never in a plain Node process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import { SourceMap } from 'node:module';
import { projectRoot } from '../src/paths';

export interface ErrorView {
  /** `Name: message` (the name only when it is not plain Error), as the user should read it first. */
  message: string;
  /** Stack frames worth reading, in TypeScript sources where a source map says where. */
  frames: string[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapOf(file: string): SourceMap | null {
  if (!maps.has(file)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return maps.get(file)!;
}

/** `/…/dist/src/data/catalog.js:202:15` → `src/data/catalog.ts:230:13` (through its source map), relative to the project. */
function mapLocation(file: string, line: number, column: number): string {
  const root = projectRoot();
  const map = file.endsWith('.js') ? sourceMapOf(file) : null;
  const entry = map?.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (entry?.originalSource) {
    const src = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : path.resolve(path.dirname(file), entry.originalSource);
    return `${path.relative(root, src)}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}`;
  }
  const rel = path.relative(root, file);
  return `${rel.startsWith('..') ? file : rel}:${line}:${column}`;
}

/** Frames that say nothing to a notebook user: Node's internals, the vm, tslab's executor. */
function internal(frame: string): boolean {
  return /\(node:|^\s*at node:|[\\/]node_modules[\\/]tslab[\\/]|sigintHandlersWrap|Script\.runInThisContext/.test(frame);
}

/** The message and the readable frames of an error. */
export function errorView(err: unknown): ErrorView {
  if (!(err instanceof Error)) return { message: String(err), frames: [] };
  const name = err.name && err.name !== 'Error' && err.name !== 'InterruptedError' ? `${err.name}: ` : '';
  // tslab's own words for Kernel > Interrupt
  const message = err.message === 'Interrupted asynchronously' ? 'Interrupted (Kernel > Interrupt)' : `${name}${err.message}`;
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && !internal(l))
    .map((l) =>
      l
        .trim()
        .replace(/evalmachine\.<anonymous>:\d+:\d+/g, 'this cell')
        .replace(/(\/[^\s():]+):(\d+):(\d+)/g, (_, f: string, line: string, col: string) => mapLocation(f, Number(line), Number(col))),
    )
    .filter((f, i, all) => f !== all[i - 1]);
  return { message, frames };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The error as HTML: the message in red, then the frames behind a toggle. */
export function errorHtml(err: unknown, note?: string): string {
  const v = errorView(err);
  const frames = v.frames.length
    ? `<details style="margin-top:2px"><summary style="cursor:pointer;color:#666">stack (${v.frames.length} frames)</summary>` +
      `<pre style="margin:2px 0 0 12px;font-size:11px;color:#444;background:none">${esc(v.frames.join('\n'))}</pre></details>`
    : '';
  const extra = note ? `<div style="color:#444;margin-top:2px">${esc(note)}</div>` : '';
  return (
    `<div class="galmorph-error" style="font:13px sans-serif;border-left:3px solid #c0392b;padding:4px 8px;background:#fdf2f2">` +
    `<div class="galmorph-error-message" style="color:#c0392b;font-weight:600;white-space:pre-wrap">${esc(v.message)}</div>${extra}${frames}</div>`
  );
}

/** The plain-text twin (headless runs read it to report the failing cell). */
export function errorText(err: unknown, note?: string): string {
  const v = errorView(err);
  return [v.message, ...(note ? [note] : []), ...v.frames.map((f) => `    ${f}`)].join('\n');
}

/** Is tslab's executor printing a failed cell right now (rather than a cell calling console.error)? */
function tslabIsReporting(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return /[\\/]tslab[\\/]dist[\\/]executor\.js/.test(stack) && !/evalmachine\.<anonymous>/.test(stack);
}

export interface ErrorDisplayHooks {
  /** Shows data with several MIME types as one output. */
  show(data: { 'text/html': string; 'text/plain': string }): void;
  /** Extra line under the message for some errors (e.g. what an interrupt stopped). */
  note?(err: unknown): string | undefined;
}

const INSTALLED = Symbol.for('galmorph.errorDisplay');

/** Makes tslab show failing cells' errors as errorHtml (see the module comment). Idempotent. */
export function installErrorDisplay(hooks: ErrorDisplayHooks): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[INSTALLED]) return;
  g[INSTALLED] = true;
  Object.defineProperty(Error.prototype, util.inspect.custom, {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: Error, _depth: number, options: util.InspectOptions) {
      if (!tslabIsReporting()) return util.inspect(this, { ...options, customInspect: false });
      try {
        const note = hooks.note?.(this);
        hooks.show({ 'text/html': errorHtml(this, note), 'text/plain': errorText(this, note) });
      } catch {
        return util.inspect(this, { ...options, customInspect: false });
      }
      // console.error still writes what this returns plus a newline: swallow that one write, so
      // the cell shows no empty stderr box under the error.
      const stderr = process.stderr as unknown as { write: (...a: unknown[]) => boolean };
      const write = stderr.write;
      stderr.write = (...args: unknown[]) => {
        stderr.write = write;
        return args[0] === '\n' ? true : write.apply(process.stderr, args);
      };
      return '';
    },
  });
}
