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
    '',
    '## Notebooks',
    '',
    '| notebook | seconds | executed |',
    '| --- | --- | --- |',
    ...ctx.notebooks.map((n) => `| ${n.notebook} | ${n.seconds.toFixed(1)} | [${rel(n.html)}](${rel(n.html)}) |`),
    '',
    '## Tables',
    '',
  ];
  const tablesDir = path.join(ctx.outDir, 'tables');
  const tables = listFiles(tablesDir, ['.md']);
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
  const figures = listFiles(path.join(ctx.outDir, 'figures'), ['.png', '.svg']);
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
