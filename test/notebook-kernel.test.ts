/**
 * The pieces behind the notebooks' progress bar, interrupt, errors and DataFrames, without a
 * kernel (test/notebook-browser.test.ts drives them in the real Notebook).
 */
import { strict as assert } from 'node:assert';
import * as vm from 'node:vm';
import { dataFrameHtml, errorHtml, errorText, ProgressBoard, progressHtml } from '../kernel/index';
import { AnomalySession } from '../src/anomaly/session';
import { readCatalog } from '../src/data/catalog';
import { fromDataFrame, toDataFrame } from '../src/data/dataframe';
import { mapImageBatches } from '../src/data/batches';
import { InterruptedError, ProgressEvent, setAmbientHooks } from '../src/progress';
import { gz2Sample, tempDir } from './support/fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('notebook kernel: progress, interrupt, errors, DataFrames', () => {
  it('one bar per label, updated in place, with rate and time left; a new display for the next call', () => {
    let now = 0;
    const displays: string[][] = [];
    const board = new ProgressBoard({ open: () => {
      const shown: string[] = [];
      displays.push(shown);
      return { html: (s) => shown.push(s) };
    }, throttleMs: 0, now: () => now });
    board.listener({ label: 'encode', done: 0, total: 100, unit: 'images' });
    now = 2000;
    board.listener({ label: 'encode', done: 40, total: 100, unit: 'images' });
    assert.equal(displays.length, 1);
    assert.match(displays[0]!.at(-1)!, /40\/100 images/);
    assert.match(displays[0]!.at(-1)!, /20\.0 images\/s · 0:03 left/);
    now = 5000;
    board.listener({ label: 'encode', done: 100, total: 100, unit: 'images' });
    assert.match(displays[0]!.at(-1)!, /data-state="done"[\s\S]*done in 0:05/);
    board.listener({ label: 'encode', done: 0, total: 10, unit: 'images' });
    assert.equal(displays.length, 2, 'a finished bar is not reused by the next call');
    assert.deepEqual(board.interrupting().map((b) => b.state), ['interrupting']);
    board.listener({ label: 'encode', done: 3, total: 10, unit: 'images', interrupted: true });
    assert.match(displays[1]!.at(-1)!, /data-state="interrupted"/);
    assert.ok(progressHtml([]).startsWith('<div class="galmorph-progress">'));
  });

  it('the inference loop reports to the ambient listener and stops at the ambient signal, saying what was finished', async () => {
    const events: ProgressEvent[] = [];
    const controller = new AbortController();
    const prev = setAmbientHooks({ progress: (e) => events.push(e), signal: () => controller.signal });
    try {
      const files = gz2Sample(6).rows.map((r) => gz2Sample(6).imagePath(r));
      let batches = 0;
      await assert.rejects(
        mapImageBatches(files, { kind: 'galmorph', size: 32, channels: 3 }, 1, (x) => {
          if (++batches === 2) controller.abort();
          return new Float32Array(x.shape[0]);
        }, { batchSize: 2, label: 'encode (test)' }),
        (e: unknown) => e instanceof InterruptedError && /encode \(test\) interrupted after 4 of 6 images/.test(e.message),
      );
      assert.deepEqual(events.map((e) => [e.done, e.interrupted ?? false]), [[0, false], [2, false], [4, false], [4, true]]);
    } finally {
      setAmbientHooks(prev);
    }
  });

  it('an error thrown through vm shows its message first, no dist/ code, the stack in TypeScript sources', () => {
    let err: unknown;
    try {
      // As tslab runs a cell: through vm, which puts an excerpt of the throwing line on top of the stack.
      vm.runInThisContext('(r) => r("/nonexistent/catalogue.csv")')((f: string) => readCatalog(f));
    } catch (e) {
      err = e;
    }
    const text = errorText(err);
    assert.ok(text.startsWith('galmorph: catalogue file not found: /nonexistent/catalogue.csv'), text);
    assert.ok(!/throw new Error|\^\n/.test(text), text);
    const html = errorHtml(err);
    assert.match(html, /^<div class="galmorph-error"[^>]*><div class="galmorph-error-message" style="color:#c0392b/);
    assert.match(html, /<details[^>]*><summary[^>]*>stack/);
    assert.match(text, /src\/data\/catalog\.ts:\d+:\d+/);
  });

  it('ranking() with fewer than 2 scores returns what it can and says why', () => {
    const dim = 3;
    const ids = ['a', 'b', 'c', 'd'];
    const vectors = Float32Array.from({ length: ids.length * dim }, (_, i) => Math.sin(i));
    const session = AnomalySession.open({ ids, vectors, dim }, path.join(tempDir(), 'labels.jsonl'), { components: 2 });
    session.score('c', 4);
    const r = session.ranking();
    assert.deepEqual(r.map((g) => g.id), ['c', 'a', 'b', 'd']);
    assert.equal(r[0]!.label, 4);
    assert.ok(Number.isNaN(r[1]!.predicted));
    assert.match(r.note ?? '', /1 galaxy scored of the 2 the Gaussian process needs/);
    session.score('a', 0);
    assert.equal(session.ranking().note, undefined);
  });

  it('catalogue → DataFrame → catalogue keeps 19-digit ids exact and numbers as numbers', () => {
    const dir = tempDir();
    const file = path.join(dir, 'sdss.csv');
    fs.writeFileSync(file, 'dr7objid,ra,name\n587722981742084144,150.1234567,a\n588017703996096547,1.5,b\n');
    const cat = readCatalog(file, { idCol: 'dr7objid', imageCol: null });
    const df = toDataFrame(cat);
    assert.deepEqual(df.dtypes, ['string', 'float32', 'string']);
    assert.deepEqual(df['dr7objid'].values, ['587722981742084144', '588017703996096547']);
    const back = fromDataFrame(df, { idCol: 'dr7objid' });
    assert.deepEqual(back.ids(), cat.ids());
    assert.deepEqual(back.rows, cat.rows);
    const html = dataFrameHtml(df);
    assert.match(html, />587722981742084144</);
    assert.match(html, />150\.1235<\/td>[\s\S]*>1\.5000<\/td>/, 'the same decimals in every row');
    // Result tables too
    assert.deepEqual(toDataFrame([{ tag: 'ring', p7: 0.59 }]).dtypes, ['string', 'float32']);
  });
});
