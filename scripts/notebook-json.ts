/**
 * Writes a notebook file from a list of cells. Used to author the curated notebooks from readable
 * sources (`notebooks/src/*.ts`, cells separated by `// %%` and `// %% [markdown]` lines); the
 * .ipynb files are committed so users open them directly.
 *   node dist/scripts/notebook-json.js notebooks/src/00-quickstart.ts notebooks/00-quickstart.ipynb
 */
import * as fs from 'node:fs';

export interface SourceCell {
  kind: 'code' | 'markdown';
  source: string;
}

/** Splits `// %%`-delimited source into cells; markdown cells have their `// ` prefixes removed. */
export function parseCells(text: string): SourceCell[] {
  const cells: SourceCell[] = [];
  let current: SourceCell | undefined;
  for (const line of text.split('\n')) {
    const m = /^\/\/ %%( \[markdown\])?\s*$/.exec(line);
    if (m) {
      if (current) cells.push(current);
      current = { kind: m[1] ? 'markdown' : 'code', source: '' };
      continue;
    }
    if (!current) continue; // header before the first cell marker
    current.source += (current.kind === 'markdown' ? line.replace(/^\/\/ ?/, '') : line) + '\n';
  }
  if (current) cells.push(current);
  return cells.map((c) => ({ ...c, source: c.source.replace(/\s+$/, '') })).filter((c) => c.source.length > 0);
}

export function notebookJson(cells: SourceCell[]): string {
  const nb = {
    cells: cells.map((c) => {
      const lines = c.source.split('\n').map((l, i, a) => (i < a.length - 1 ? `${l}\n` : l));
      return c.kind === 'code'
        ? { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: lines }
        : { cell_type: 'markdown', metadata: {}, source: lines };
    }),
    metadata: {
      kernelspec: { display_name: 'TypeScript', language: 'typescript', name: 'tslab' },
      language_info: { codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true }, file_extension: '.ts', mimetype: 'text/typescript', name: 'typescript', version: '5.0.4' },
    },
    nbformat: 4,
    nbformat_minor: 4,
  };
  return JSON.stringify(nb, null, 1) + '\n';
}

if (require.main === module) {
  const [src, dest] = process.argv.slice(2);
  if (!src || !dest) {
    console.error('usage: notebook-json SOURCE.ts DEST.ipynb');
    process.exit(2);
  }
  fs.writeFileSync(dest, notebookJson(parseCells(fs.readFileSync(src, 'utf8'))));
  console.log(`wrote ${dest}`);
}
