/**
 * Headless notebook execution through the project-local tslab kernel, with offline HTML export.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { projectRoot } from '../paths';
import { RUN_ID_ENV } from '../report/report';
import { jupyterEnv, jupyterPython } from './jupyter';

export class NotebookCellError extends Error {
  constructor(
    readonly notebook: string,
    /** Index of the failing cell among all cells (markdown included), as Jupyter counts them. */
    readonly cellIndex: number,
    readonly detail: string,
  ) {
    super(`galmorph: notebook ${notebook} failed at cell ${cellIndex}:\n${detail}`);
  }
}

export interface RunNotebookOptions {
  /** Folder for `<name>.ipynb` and `<name>.html`. */
  outDir: string;
  /** Per-cell timeout in seconds. Default 3600. */
  cellTimeout?: number;
  /** Extra environment for the kernel (e.g. GALMORPH_OUT). */
  env?: Record<string, string>;
  /** Called with each progress line of the runner. */
  onProgress?: (line: string) => void;
}

export interface NotebookResult {
  ipynb: string;
  html: string;
  seconds: number;
  /** The executed notebook was signed in the project-local trust database (see run_notebook.py). */
  trusted: boolean;
  /** The run id the kernel wrote its outputs under (GALMORPH_RUN_ID; see src/report/report.ts). */
  runId: string;
}

/**
 * Executes a notebook (cwd: its own folder) and writes the executed `.ipynb` and offline `.html`.
 * A cell that throws rejects with a NotebookCellError naming the notebook and the cell; the partly
 * executed notebook is still written so its outputs can be read.
 */
export function runNotebook(notebook: string, options: RunNotebookOptions): Promise<NotebookResult> {
  const abs = path.resolve(notebook);
  if (!fs.existsSync(abs)) return Promise.reject(new Error(`galmorph: notebook not found: ${abs}`));
  const name = path.basename(abs, '.ipynb');
  fs.mkdirSync(options.outDir, { recursive: true });
  const ipynb = path.join(options.outDir, `${name}.ipynb`);
  const html = path.join(options.outDir, `${name}.html`);
  const root = projectRoot();
  const args = [
    path.join(root, 'src', 'notebooks', 'run_notebook.py'),
    abs,
    ipynb,
    html,
    '--kernel',
    'tslab',
    '--timeout',
    String(options.cellTimeout ?? 3600),
    '--cwd',
    path.dirname(abs),
    '--template-dir',
    path.join(root, 'kernel', 'nbconvert'),
  ];
  const started = Date.now();
  // A headless run is never an interactive session: its kernel writes to out/ and lists what it
  // wrote under this id, from which REPORT.md is built.
  const runId = options.env?.[RUN_ID_ENV] ?? process.env[RUN_ID_ENV] ?? newRunId();
  return new Promise((resolve, reject) => {
    const child = spawn(jupyterPython(), args, {
      env: { ...process.env, ...jupyterEnv(), ...(options.env ?? {}), [RUN_ID_ENV]: runId, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      for (const line of text.split('\n')) if (line.trim().startsWith('cell ')) options.onProgress?.(line.trim());
    });
    child.on('error', (err) => reject(new Error(`galmorph: cannot start ${jupyterPython()}: ${err.message}`)));
    child.on('close', (code) => {
      const seconds = (Date.now() - started) / 1000;
      if (code === 0) return resolve({ ipynb, html, seconds, trusted: /^GALMORPH_TRUSTED$/m.test(stdout), runId });
      const m = /GALMORPH_CELL_ERROR (\d+) /.exec(stdout);
      if (m) {
        const detail = stdout.slice(stdout.indexOf('\n', m.index) + 1).trim();
        return reject(new NotebookCellError(abs, Number(m[1]), stripAnsi(detail)));
      }
      reject(new Error(`galmorph: running ${abs} failed (exit ${code}):\n${stripAnsi((stderr + stdout).trim()).slice(-4000)}`));
    });
  });
}

/** A fresh run id: the time, then the process id, so two runs started in one second differ. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}
