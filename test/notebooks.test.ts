import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotebookCellError, runNotebook } from '../src/notebooks/run';
import { listNotebooks, reproduce } from '../src/notebooks/reproduce';
import { jupyterEnv, jupyterPython, jupyterStatus } from '../src/notebooks/jupyter';
import { prepareWorkingCopies, serverUrl } from '../src/notebooks/workcopy';
import { readRunManifest } from '../src/report/report';
import { writeTable } from '../src/report/tables';
import { spawn, spawnSync } from 'node:child_process';
import { notebookJson, parseCells } from '../scripts/notebook-json';
import { projectRoot } from '../src/paths';
import { tempDir } from './support/fixtures';

function writeNotebook(dir: string, name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, notebookJson(parseCells(source)));
  return file;
}

const GOOD = `// %% [markdown]
// # a test notebook
// %%
import * as gm from "galmorph";
import { showTable, saveTable } from "galmorph/kernel";
const b = await gm.initBackend();
console.log("backend " + b.name);
// %%
saveTable([{ answer: 6 * 7 }], "answer");
`;

const THROWS = `// %% [markdown]
// # a notebook that throws
// %%
const galaxies: number = 3;
console.log("before " + galaxies);
// %% [markdown]
// the next cell fails
// %%
throw new Error("boom at galaxy 42");
// %%
console.log("never reached");
`;

describe('notebook execution (tslab kernel, headless)', function () {
  this.timeout(180_000);

  it('the tslab kernel is registered in the project-local Jupyter path only', () => {
    const status = jupyterStatus();
    assert.equal(status.problem, undefined, status.problem);
    assert.ok(status.kernelSpec.startsWith(path.join(projectRoot(), '.jupyter')));
    const spec = JSON.parse(fs.readFileSync(status.kernelSpec, 'utf8'));
    assert.equal(spec.argv[0], path.join(projectRoot(), 'bin', 'tslab-kernel.js'), 'the launcher that queues ZeroMQ sends');
    for (const v of Object.values(jupyterEnv())) assert.ok(v.startsWith(path.join(projectRoot(), '.jupyter')), v);
  });

  it("the kernel launcher queues each ZeroMQ socket's sends, which zeromq 6 otherwise refuses while one is in flight", async () => {
    // The zeromq tslab loads, found the way the launcher finds it.
    const zmq = require(require.resolve('zeromq', { paths: [path.dirname(require.resolve('tslab/package.json'))] })) as typeof import('zeromq');
    const { queueSends } = require(path.join(projectRoot(), 'bin', 'tslab-kernel.js')) as { queueSends: (z: unknown) => unknown };
    const sockets: { close(): void }[] = [];
    const pushTo = async (address: string) => {
      const push = new zmq.Push();
      sockets.push(push);
      await push.bind(address);
      return push;
    };
    try {
      // A Push socket with no peer holds its first message, so the first send stays in flight.
      const plain = await pushTo('inproc://galmorph-plain');
      void plain.send('one').catch(() => undefined);
      assert.throws(() => void plain.send('two'), /busy writing/, 'zeromq alone: a second send while one is in flight fails (what killed the kernel)');
      const original = queueSends(zmq);
      try {
        const queued = await pushTo('inproc://galmorph-queued');
        const sent = [queued.send('one'), queued.send('two'), queued.send('three')];
        const pull = new zmq.Pull();
        sockets.push(pull);
        pull.connect('inproc://galmorph-queued');
        await Promise.all(sent);
        const received: string[] = [];
        for (let i = 0; i < 3; i++) received.push((await pull.receive())[0]!.toString());
        assert.deepEqual(received, ['one', 'two', 'three']);
      } finally {
        Object.defineProperty(zmq.Socket.prototype, 'send', { value: original, writable: false, enumerable: false, configurable: true });
      }
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it('runs a notebook, keeps its outputs, and exports HTML that loads nothing from the network', async () => {
    const dir = tempDir('nb-', true);
    const out = tempDir();
    const nb = writeNotebook(dir, 'good.ipynb', GOOD);
    const res = await runNotebook(nb, { outDir: path.join(out, 'notebooks'), env: { GALMORPH_OUT: out, GALMORPH_BACKEND: 'cpu' } });
    const executed = JSON.parse(fs.readFileSync(res.ipynb, 'utf8'));
    const texts = executed.cells.flatMap((c: { outputs?: { text?: string[] }[] }) => (c.outputs ?? []).flatMap((o) => o.text ?? []));
    assert.ok(texts.join('').includes('backend cpu'), 'the kernel ran with the backend it was given');
    const counts = executed.cells.filter((c: { cell_type: string }) => c.cell_type === 'code').map((c: { execution_count: number }) => c.execution_count);
    assert.deepEqual(counts, [1, 2], 'cells are numbered as in Jupyter');
    assert.equal(fs.readFileSync(path.join(out, 'tables', 'answer.csv'), 'utf8'), 'answer\n42\n');
    const html = fs.readFileSync(res.html, 'utf8');
    assert.ok(html.includes('backend cpu'));
    assert.ok(!/<script[^>]+src=["']https?:/i.test(html), 'no script from a CDN');
    assert.ok(!/<link[^>]+href=["']https?:/i.test(html), 'no stylesheet from a CDN');
    // Marked trusted in the project-local trust database, so Jupyter shows its HTML outputs.
    assert.equal(res.trusted, true);
    const check = spawnSync(jupyterPython(), ['-c', 'import sys, nbformat; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], as_version=4)))', res.ipynb], { encoding: 'utf8', env: { ...process.env, ...jupyterEnv() } });
    assert.equal(check.stdout.trim(), 'True', check.stderr);
    assert.deepEqual(readRunManifest(out, res.runId).map((o) => o.name), ['answer'], 'the kernel listed what it wrote under the run id');
  });

  it('reproduce builds REPORT.md from the tables its own run wrote, not from what was already in out/', async () => {
    const dir = tempDir('nb-', true);
    const out = tempDir();
    writeNotebook(dir, '01-fine.ipynb', GOOD);
    writeTable([{ from: 'an earlier run' }], path.join(out, 'tables'), 'stale');
    const report = await reproduce({ notebooksDir: dir, out, log: () => undefined });
    const text = fs.readFileSync(report, 'utf8');
    assert.ok(text.includes('### answer') && text.includes('| 42 |'), text);
    assert.ok(!text.includes('stale') && !text.includes('an earlier run'), 'a table the run did not write is not reported');
    assert.ok(text.includes('- settings: quick'));
  });

  it('a cell that throws fails the run, naming the notebook and the cell, and keeps the partial output', async () => {
    const dir = tempDir();
    const out = tempDir();
    const nb = writeNotebook(dir, 'throws.ipynb', THROWS);
    const err = await runNotebook(nb, { outDir: out }).then(
      () => assert.fail('should have thrown'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NotebookCellError, String(err));
    assert.equal(err.notebook, nb);
    assert.equal(err.cellIndex, 3, 'cells are counted as Jupyter does, markdown included');
    assert.match(err.detail, /boom at galaxy 42/);
    const partial = JSON.parse(fs.readFileSync(path.join(out, 'throws.ipynb'), 'utf8'));
    assert.ok(JSON.stringify(partial.cells[1].outputs).includes('before 3'));
    assert.deepEqual(partial.cells[4].outputs, [], 'later cells were not run');
  });

  it('with galmorph/kernel imported, a thrown error is still reported by message, without compiled dist/ code', async () => {
    const dir = tempDir('nb-', true);
    const nb = writeNotebook(dir, 'kernel-throws.ipynb', '// %%\nimport * as gm from "galmorph";\nimport "galmorph/kernel";\n// %%\ngm.readCatalog("no-such-catalogue.csv");\n');
    await assert.rejects(runNotebook(nb, { outDir: tempDir() }), (e: unknown) => {
      assert.ok(e instanceof NotebookCellError);
      assert.equal(e.cellIndex, 1);
      assert.match(e.detail, /galmorph: catalogue file not found: \S*no-such-catalogue\.csv/);
      assert.doesNotMatch(e.detail, /dist\/|throw new Error/);
      return true;
    });
  });

  it('a TypeScript error in a cell fails the run with the compiler message', async () => {
    const dir = tempDir('nb-', true);
    const nb = writeNotebook(dir, 'typo.ipynb', '// %%\nconst n: number = "three";\n');
    await assert.rejects(runNotebook(nb, { outDir: tempDir() }), (e: unknown) => {
      assert.ok(e instanceof NotebookCellError);
      assert.equal(e.cellIndex, 0);
      assert.match(e.detail, /Type 'string' is not assignable to type 'number'/);
      return true;
    });
  });

  it('reproduce stops at a failing notebook and says which notebook and cell failed', async () => {
    const dir = tempDir('nb-', true);
    const out = tempDir();
    writeNotebook(dir, '01-fine.ipynb', GOOD);
    writeNotebook(dir, '02-broken.ipynb', THROWS);
    writeNotebook(dir, '03-after.ipynb', GOOD);
    assert.deepEqual(listNotebooks(dir).map((f) => path.basename(f)), ['01-fine.ipynb', '02-broken.ipynb', '03-after.ipynb']);
    const lines: string[] = [];
    await assert.rejects(
      reproduce({ notebooksDir: dir, out, log: (l) => lines.push(l) }),
      /galmorph reproduce: 02-broken\.ipynb failed at cell 3 .*\n[\s\S]*boom at galaxy 42/,
    );
    assert.ok(fs.existsSync(path.join(out, 'notebooks', '01-fine.html')));
    assert.ok(!fs.existsSync(path.join(out, 'notebooks', '03-after.ipynb')), 'later notebooks are not run');
    assert.ok(lines.some((l) => l.includes('[2/3] 02-broken.ipynb')));
  });
});

describe('working copies for `npm run notebook`', () => {
  it('copies each notebook to the working folder once, and never overwrites an edited copy', () => {
    const src = tempDir();
    const work = path.join(tempDir(), 'work');
    writeNotebook(src, 'a.ipynb', GOOD);
    writeNotebook(src, 'b.ipynb', GOOD);
    const first = prepareWorkingCopies(src, work);
    assert.deepEqual(first.copied.map((f) => path.basename(f)), ['a.ipynb', 'b.ipynb']);
    fs.writeFileSync(path.join(work, 'a.ipynb'), '{"edited": true}');
    fs.rmSync(path.join(work, 'b.ipynb'));
    const second = prepareWorkingCopies(src, work);
    assert.deepEqual(second.kept.map((f) => path.basename(f)), ['a.ipynb']);
    assert.deepEqual(second.copied.map((f) => path.basename(f)), ['b.ipynb'], 'a deleted copy starts afresh');
    assert.equal(fs.readFileSync(path.join(work, 'a.ipynb'), 'utf8'), '{"edited": true}');
    assert.equal(fs.readFileSync(path.join(work, 'b.ipynb'), 'utf8'), fs.readFileSync(path.join(src, 'b.ipynb'), 'utf8'));
    assert.throws(() => prepareWorkingCopies(path.join(src, 'missing'), work), /notebooks folder not found: .*missing/);
  });

  it('finds the URL in the server\'s start-up lines', () => {
    assert.equal(serverUrl('[I 10:00:00 NotebookApp]  or http://127.0.0.1:8888/?token=abc123'), 'http://127.0.0.1:8888/?token=abc123');
    assert.equal(serverUrl('[I 10:00:00 NotebookApp] Serving notebooks from local directory: /x'), undefined);
  });

  it('npm run notebook starts Jupyter on work/ and prints the URL to open', async function () {
    this.timeout(60_000);
    const script = path.join(projectRoot(), 'dist', 'scripts', 'notebook.js');
    const port = 20000 + (process.pid % 20000);
    const child = spawn(process.execPath, [script, '--no-browser', `--port=${port}`, '--port-retries=50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /galmorph: open (\S+) and pick the TypeScript kernel/.exec(stdout);
          if (m) resolve(m[1]!);
        });
        child.stderr!.resume();
        child.on('close', (code) => reject(new Error(`npm run notebook exited (${code}) before printing a URL:\n${stdout}`)));
      });
      assert.match(url, /^http:\/\/(127\.0\.0\.1|localhost):\d+\/.*token=/);
      assert.match(stdout, /working copies in .*\/work /);
      for (const f of fs.readdirSync(path.join(projectRoot(), 'notebooks')).filter((n) => n.endsWith('.ipynb'))) {
        assert.ok(fs.existsSync(path.join(projectRoot(), 'work', f)), `work/${f}`);
      }
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('the work/ folder is ignored by git', () => {
    const r = spawnSync('git', ['check-ignore', '-q', 'work/00-quickstart.ipynb'], { cwd: projectRoot() });
    assert.equal(r.status, 0, 'work/ must be in .gitignore');
  });
});
