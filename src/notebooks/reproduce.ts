/**
 * `npm run reproduce` / `galmorph reproduce`: executes every notebook in notebooks/ in order,
 * headless, and writes out/: executed notebooks (.ipynb, .html), figures, tables, REPORT.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend/select';
import { outDir, projectRoot } from '../paths';
import { NotebookRun, RUN_ID_ENV, readRunManifest, writeReport } from '../report/report';
import { jupyterEnv } from './jupyter';
import { NotebookCellError, newRunId, runNotebook } from './run';

export interface ReproduceOptions {
  /** Only notebooks whose file name contains one of these strings. */
  only?: string[];
  /** Output folder. Default: GALMORPH_OUT or <project>/out. */
  out?: string;
  /** Notebooks folder. Default: <project>/notebooks. */
  notebooksDir?: string;
  /** Passed to notebooks as GALMORPH_FULL=1: full-size experiments instead of the quick defaults. */
  full?: boolean;
  log?: (line: string) => void;
}

export function listNotebooks(dir: string, only?: string[]): string[] {
  if (!fs.existsSync(dir)) throw new Error(`galmorph: notebooks folder not found: ${dir}`);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .filter((f) => !only || only.length === 0 || only.some((o) => f.includes(o)))
    .sort()
    .map((f) => path.join(dir, f));
}

export async function reproduce(options: ReproduceOptions = {}): Promise<string> {
  const log = options.log ?? ((l: string) => console.log(l));
  const out = path.resolve(options.out ?? outDir());
  const started = new Date();
  const backend = await initBackend();
  log(`galmorph reproduce — ${describeBackend(backend)}`);
  const notebooks = listNotebooks(options.notebooksDir ?? path.join(projectRoot(), 'notebooks'), options.only);
  if (notebooks.length === 0) throw new Error('galmorph: no notebooks matched');
  fs.mkdirSync(out, { recursive: true });
  // Every notebook of this run lists what it writes under one id; REPORT.md is built from that
  // list alone, so tables left in out/ by earlier or interactive runs never pass for this run's.
  const runId = newRunId(started);
  const untrusted: string[] = [];
  const runs: NotebookRun[] = [];
  for (const [i, nb] of notebooks.entries()) {
    const name = path.basename(nb);
    log(`[${i + 1}/${notebooks.length}] ${name}`);
    try {
      const result = await runNotebook(nb, {
        outDir: path.join(out, 'notebooks'),
        env: {
          GALMORPH_OUT: out,
          [RUN_ID_ENV]: runId,
          // The kernel chooses the same backend as this run unless the user forced another.
          GALMORPH_BACKEND: process.env.GALMORPH_BACKEND ?? backend.name,
          ...(options.full ? { GALMORPH_FULL: '1' } : {}),
        },
        onProgress: (line) => log(`    ${line}`),
      });
      runs.push({ notebook: name, seconds: result.seconds, html: result.html });
      if (!result.trusted) untrusted.push(result.ipynb);
      log(`    done in ${result.seconds.toFixed(1)} s → ${path.relative(process.cwd(), result.html)}`);
    } catch (err) {
      if (err instanceof NotebookCellError) {
        throw new Error(`galmorph reproduce: ${name} failed at cell ${err.cellIndex} (partial output in ${path.join(out, 'notebooks')}):\n${err.detail}`);
      }
      throw err;
    }
  }
  const report = writeReport({
    outDir: out,
    notebooks: runs,
    backend: describeBackend(backend),
    started,
    outputs: readRunManifest(out, runId),
    settings: options.full ? 'full (--full: GALMORPH_FULL=1, every notebook with QUICK = false)' : 'quick (the notebooks\' QUICK = true; --full for the full-size settings)',
  });
  log(`report: ${report}`);
  if (untrusted.length > 0) {
    log(`not marked trusted (Jupyter will hide their plots until you trust them): JUPYTER_DATA_DIR=${jupyterEnv().JUPYTER_DATA_DIR} jupyter trust ${untrusted.join(' ')}`);
  } else {
    log(`executed notebooks marked trusted in ${jupyterEnv().JUPYTER_DATA_DIR}: a Jupyter started with that data dir (as \`npm run notebook\` starts it) shows their plots`);
  }
  return report;
}
