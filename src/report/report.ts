/**
 * out/REPORT.md: what a reproduce run produced, each table beside the paper's values.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PAPER_VALUES } from './paper';

/** Tables longer than this are linked from the report instead of copied into it. */
const MAX_INLINE_ROWS = 60;

export interface NotebookRun {
  notebook: string;
  seconds: number;
  html: string;
}

export interface ReportContext {
  outDir: string;
  notebooks: NotebookRun[];
  /** One line naming the backend the run used. */
  backend: string;
  started: Date;
  /**
   * What this run wrote (its manifest, see recordOutput). When given, the report shows only these,
   * never a table or figure left under out/ by an earlier or interactive run.
   */
  outputs?: RunOutput[];
  /** A line saying which size of settings ran (e.g. quick or full). */
  settings?: string;
}

/** One table, figure or settings table a notebook wrote during a run. */
export interface RunOutput {
  kind: 'table' | 'figure' | 'settings';
  /** The table's or figure's name (files `<name>.csv`/`.md`, or `<name>.png`/...). */
  name: string;
  /** The files written, absolute. */
  files: string[];
}

/** The environment variable naming the run a notebook kernel belongs to (set by runNotebook). */
export const RUN_ID_ENV = 'GALMORPH_RUN_ID';

export function runManifestPath(outDir: string, runId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw new Error(`galmorph: run id '${runId}' may use only letters, digits, '.', '_' and '-'`);
  return path.join(outDir, 'runs', `${runId}.jsonl`);
}

/** Appends one output to the run's manifest (one JSON line, so concurrent kernels cannot corrupt it). */
export function recordOutput(outDir: string, runId: string, output: RunOutput): void {
  const file = runManifestPath(outDir, runId);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify(output) + '\n');
}

/** The outputs a run recorded, later writes of one name replacing earlier ones; [] for a run that wrote none. */
export function readRunManifest(outDir: string, runId: string): RunOutput[] {
  const file = runManifestPath(outDir, runId);
  if (!fs.existsSync(file)) return [];
  const byKey = new Map<string, RunOutput>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as RunOutput;
    byKey.set(`${o.kind}:${o.name}`, o);
  }
  return [...byKey.values()];
}

function listFiles(dir: string, exts: string[]): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort();
}

/** Builds the report text from what is under `outDir` (tables, figures) and the notebook runs. */
export function buildReport(ctx: ReportContext): string {
  const rel = (p: string) => path.relative(ctx.outDir, p);
  const lines: string[] = [
    '# galmorph reproduction report',
    '',
    'Walmsley et al. 2022, "Practical galaxy morphology tools from deep supervised representation learning", MNRAS 513, 1581.',
    '',
    `- run started: ${ctx.started.toISOString()}`,
    `- ${ctx.backend}`,
    `- machine: ${process.platform} ${process.arch}, node ${process.version}`,
    ...(ctx.settings ? [`- settings: ${ctx.settings}`] : []),
    '',
    '## Notebooks',
    '',
    '| notebook | seconds | executed |',
    '| --- | --- | --- |',
    ...ctx.notebooks.map((n) => `| ${n.notebook} | ${n.seconds.toFixed(1)} | [${rel(n.html)}](${rel(n.html)}) |`),
    '',
  ];
  const tablesDir = path.join(ctx.outDir, 'tables');
  const wrote = (kind: RunOutput['kind']) => (ctx.outputs ?? []).filter((o) => o.kind === kind);
  const settings = wrote('settings');
  if (settings.length > 0) {
    // The parameters each notebook actually ran with, so no number in the report is taken on trust.
    lines.push('## Settings that ran', '');
    for (const s of settings) {
      const md = s.files.find((f) => f.endsWith('.md'));
      lines.push(`### ${s.name}`, '', md && fs.existsSync(md) ? fs.readFileSync(md, 'utf8').trim() : '(settings file missing)', '');
    }
  }
  lines.push('## Tables', '');
  const tables = ctx.outputs ? wrote('table').map((t) => `${t.name}.md`).sort() : listFiles(tablesDir, ['.md']);
  if (tables.length === 0) lines.push('No tables were written.', '');
  for (const t of tables) {
    const name = path.basename(t, '.md');
    const entry = PAPER_VALUES[name];
    lines.push(`### ${name}`, '');
    const md = fs.readFileSync(path.join(tablesDir, t), 'utf8').trim();
    const rows = md.split('\n').length - 2;
    if (rows > MAX_INLINE_ROWS) {
      // Long tables stay readable as files; the report links them.
      lines.push(`Measured here: ${rows} rows, in [csv](tables/${name}.csv) and [md](tables/${name}.md).`, '');
    } else {
      lines.push(`Measured here ([csv](tables/${name}.csv)):`, '', md, '');
    }
    if (entry) {
      lines.push(`Paper (${entry.experiment}):`, '', '| quantity | paper |', '| --- | --- |');
      for (const v of entry.values) lines.push(`| ${v.quantity} | ${v.paper} |`);
      lines.push('');
    } else {
      lines.push('Paper: no counterpart (this table describes galmorph\'s own data or set-up).', '');
    }
  }
  lines.push('## Figures', '');
  const figures = ctx.outputs
    ? wrote('figure').flatMap((f) => f.files.map((file) => path.basename(file))).filter((f) => /\.(png|svg|pdf)$/.test(f)).sort()
    : listFiles(path.join(ctx.outDir, 'figures'), ['.png', '.svg', '.pdf']);
  if (figures.length === 0) lines.push('No figures were written.');
  for (const f of figures) lines.push(f.endsWith('.png') ? `![${f}](figures/${f})` : `- [${f}](figures/${f})`);
  lines.push('');
  return lines.join('\n');
}

export function writeReport(ctx: ReportContext): string {
  const file = path.join(ctx.outDir, 'REPORT.md');
  fs.writeFileSync(file, buildReport(ctx));
  return file;
}
