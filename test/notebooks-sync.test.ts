/**
 * The committed notebooks/*.ipynb are generated from notebooks/src/*.ts: regenerating them with the
 * project's own generator (what `npm run notebooks` runs) must give the same cells.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import ts from 'typescript';
import { parseCells } from '../scripts/notebook-json';
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

  it('no later cell names a parameter in shorthand `{ NAME }` (tslab leaves it undefined: ReferenceError at run time)', () => {
    const found: string[] = [];
    for (const src of sources) {
      const code = parseCells(fs.readFileSync(path.join(root, 'notebooks', 'src', src), 'utf8')).filter((c) => c.kind === 'code');
      const names = [...(code[0]?.source ?? '').matchAll(/^const ([A-Z][A-Z0-9_]*)\b/gm)].map((m) => m[1]!);
      code.slice(1).forEach((cell, i) => {
        const visit = (node: ts.Node): void => {
          if (ts.isShorthandPropertyAssignment(node) && names.includes(node.name.text)) found.push(`${src}, code cell ${i + 2}: { ${node.name.text} }`);
          ts.forEachChild(node, visit);
        };
        visit(ts.createSourceFile('cell.ts', cell.source, ts.ScriptTarget.ES2022, true));
      });
    }
    assert.deepEqual(found, [], 'write `NAME: NAME` instead');
  });

  it('names the notebook cell that differs', () => {
    const code = (source: string) => ({ type: 'code', source });
    assert.equal(firstCellDifference([code('a\nb')], [code('a\nb')]), undefined);
    assert.equal(firstCellDifference([code('a\nb')], [code('a\nc')]), 'cell 1 (code), line 2: committed "b", source gives "c"');
    assert.equal(firstCellDifference([code('a')], [{ type: 'markdown', source: 'a' }]), 'cell 1: code in the committed notebook, markdown in the source');
    assert.match(firstCellDifference([code('a')], [code('a'), code('b')])!, /^cell 2: only in the source/);
  });
});

interface DeepRun {
  start: string;
  depth: string;
  counts: (number | 'max')[];
  repeats: number;
}
interface RingParameters {
  QUICK: boolean;
  REPEATS: number;
  STARTS: string[];
  MLP_STARTS: string[];
  DEEP_RUNS: DeepRun[];
}

/** Runs notebook 04's parameter cell (its first code cell), optionally edited, and returns its values. */
function ringParameters(env: Record<string, string>, edit: (cell: string) => string = (c) => c): RingParameters {
  const src = fs.readFileSync(path.join(projectRoot(), 'notebooks', 'src', '04-rings-finetune.ts'), 'utf8');
  const cell = parseCells(src).find((c) => c.kind === 'code')!.source;
  const js = ts.transpileModule(`${edit(cell)}\nresult = { QUICK, REPEATS, STARTS, MLP_STARTS, DEEP_RUNS };`, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
  const context: { process: { env: Record<string, string> }; result?: RingParameters } = { process: { env } };
  vm.runInNewContext(js, context);
  // Arrays of the vm's own realm: copied so assertions compare values, not prototypes.
  return JSON.parse(JSON.stringify(context.result)) as RingParameters;
}

describe('notebook 04 parameter cell: every run list follows it', () => {
  it('QUICK (the default) shrinks starts, MLP starts and deeper runs together; GALMORPH_FULL=1 runs them all', () => {
    const quick = ringParameters({});
    const full = ringParameters({ GALMORPH_FULL: '1' });
    assert.equal(quick.QUICK, true);
    assert.equal(full.QUICK, false);
    assert.ok(quick.STARTS.length < full.STARTS.length && quick.STARTS.every((s) => full.STARTS.includes(s)));
    assert.ok(quick.REPEATS <= full.REPEATS);
    assert.ok(quick.DEEP_RUNS.length < full.DEEP_RUNS.length);
    for (const p of [quick, full]) {
      for (const s of [...p.MLP_STARTS, ...p.DEEP_RUNS.map((r) => r.start)]) assert.ok(p.STARTS.includes(s), `${s} runs but is not in STARTS`);
    }
    // The 224 px ImageNet MobileNet v1 and the untrained MobileNets run only at full size.
    for (const s of ['imagenet-mobilenetv1', 'scratch-mobilenetv2', 'scratch-mobilenetv1']) {
      assert.ok(!quick.STARTS.includes(s) && !quick.DEEP_RUNS.some((r) => r.start === s), s);
      assert.ok(full.STARTS.includes(s), s);
    }
  });

  it('a start removed from STARTS leaves every run: MLP head, deeper runs and its ImageNet features', () => {
    const p = ringParameters({ GALMORPH_FULL: '1' }, (cell) => {
      const edited = cell.replace(/const STARTS = [\s\S]*?;\n/, 'const STARTS = ["galmorph"];\n');
      assert.notEqual(edited, cell, 'the STARTS line was not found in the parameter cell');
      return edited;
    });
    assert.deepEqual(p.STARTS, ['galmorph']);
    assert.deepEqual(p.MLP_STARTS, ['galmorph']);
    assert.ok(p.DEEP_RUNS.length > 0 && p.DEEP_RUNS.every((r) => r.start === 'galmorph'));
  });
});
