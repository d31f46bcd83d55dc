/**
 * The committed notebooks/*.ipynb are generated from notebooks/src/*.ts: regenerating them with the
 * project's own generator (what `npm run notebooks` runs) must give the same cells.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../src/paths';
import { tempDir } from './support/fixtures';

interface NotebookCell {
  cell_type: string;
  source: string | string[];
}

/** Cell types and sources only: metadata, outputs and execution counts are not compared. */
function cellsOf(file: string): { type: string; source: string }[] {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells?: NotebookCell[] };
  return (nb.cells ?? []).map((c) => ({ type: c.cell_type, source: Array.isArray(c.source) ? c.source.join('') : c.source }));
}

/** The first difference between two notebooks' cells, in words, or undefined when they agree. */
function firstCellDifference(committed: { type: string; source: string }[], generated: { type: string; source: string }[]): string | undefined {
  for (let i = 0; i < Math.max(committed.length, generated.length); i++) {
    const a = committed[i];
    const b = generated[i];
    if (!a || !b) return `cell ${i + 1}: ${a ? 'only in the committed notebook' : 'only in the source'} (${committed.length} committed cells, ${generated.length} from the source)`;
    if (a.type !== b.type) return `cell ${i + 1}: ${a.type} in the committed notebook, ${b.type} in the source`;
    if (a.source !== b.source) {
      const la = a.source.split('\n');
      const lb = b.source.split('\n');
      const line = la.findIndex((l, j) => l !== lb[j]);
      const at = line === -1 ? la.length : line;
      return `cell ${i + 1} (${a.type}), line ${at + 1}: committed ${JSON.stringify(la[at] ?? '')}, source gives ${JSON.stringify(lb[at] ?? '')}`;
    }
  }
  return undefined;
}

describe('committed notebooks match notebooks/src', function () {
  this.timeout(60_000);
  const root = projectRoot();
  const generator = path.join(root, 'dist', 'scripts', 'notebook-json.js');
  const sources = fs.readdirSync(path.join(root, 'notebooks', 'src')).filter((f) => f.endsWith('.ts')).sort();

  it('every source has its notebook and every notebook its source', () => {
    const notebooks = fs.readdirSync(path.join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb')).sort();
    assert.ok(sources.length > 0, 'no notebook sources in notebooks/src');
    assert.deepEqual(notebooks.map((f) => path.basename(f, '.ipynb')), sources.map((f) => path.basename(f, '.ts')));
  });

  it('regenerating every notebook from its source changes no cell (else run `npm run notebooks`)', () => {
    assert.ok(fs.existsSync(generator), `${generator} is missing: build first (npm run setup)`);
    const dir = tempDir('notebooks-sync-');
    const stale: string[] = [];
    for (const src of sources) {
      const name = path.basename(src, '.ts');
      const out = path.join(dir, `${name}.ipynb`);
      const r = spawnSync(process.execPath, [generator, path.join(root, 'notebooks', 'src', src), out], { encoding: 'utf8' });
      assert.equal(r.status, 0, `notebook-json failed on ${src}: ${r.stderr}`);
      const difference = firstCellDifference(cellsOf(path.join(root, 'notebooks', `${name}.ipynb`)), cellsOf(out));
      if (difference) stale.push(`notebooks/${name}.ipynb differs from notebooks/src/${src}: ${difference}`);
    }
    assert.deepEqual(stale, [], `regenerate with \`npm run notebooks\`:\n${stale.join('\n')}`);
  });

  it('names the notebook cell that differs', () => {
    const code = (source: string) => ({ type: 'code', source });
    assert.equal(firstCellDifference([code('a\nb')], [code('a\nb')]), undefined);
    assert.equal(firstCellDifference([code('a\nb')], [code('a\nc')]), 'cell 1 (code), line 2: committed "b", source gives "c"');
    assert.equal(firstCellDifference([code('a')], [{ type: 'markdown', source: 'a' }]), 'cell 1: code in the committed notebook, markdown in the source');
    assert.match(firstCellDifference([code('a')], [code('a'), code('b')])!, /^cell 2: only in the source/);
  });
});
