/**
 * The interactive anomaly finder: the append-only labels file, the session that resumes from it,
 * `galmorph anomaly --interactive` driven through piped input and killed, and the notebook form.
 * Galaxies are real (the GZ2 sample of the shared mirror); their "representations" are their
 * volunteer vote fractions, which is enough to exercise the finder without a model.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Embeddings, writeEmbeddings } from '../src/data/embeddings';
import { Catalog } from '../src/data/catalog';
import { embeddingsFingerprint, LabelStore, readLabels } from '../src/anomaly/labels';
import { AnomalySession } from '../src/anomaly/session';
import { terminalImage } from '../src/cli/terminal-image';
import { anomalyFormHtml, flatWarning, FORM_REGISTRY_GLOBAL } from '../kernel/anomaly-form';
import * as vm from 'node:vm';
import sharp from 'sharp';
import { projectRoot } from '../src/paths';
import { gz2Sample, tempDir } from './support/fixtures';

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');

/** Vote fractions of real GZ2 galaxies as stand-in representations. */
function voteEmbeddings(catalog: Catalog): Embeddings {
  const cols = catalog.columns.filter((c) => c.endsWith('_weighted_fraction'));
  const dim = cols.length;
  const vectors = new Float32Array(catalog.length * dim);
  cols.forEach((c, j) => catalog.numbers(c).forEach((v, i) => (vectors[i * dim + j] = Number.isFinite(v) ? v : 0)));
  return { ids: catalog.ids(), vectors, dim };
}

const warnings: string[] = [];
const quiet = { onWarning: (w: string) => warnings.push(w) };

describe('anomaly labels file', () => {
  const catalog = gz2Sample(40);
  const emb = voteEmbeddings(catalog);
  const ids = emb.ids;

  it('round-trips scores, keeps the latest score of a galaxy and refuses scores outside 0-5 naming the galaxy', () => {
    const file = path.join(tempDir(), 'labels.jsonl');
    const store = LabelStore.open(file, { embeddings: embeddingsFingerprint(emb, 'emb.parquet'), ...quiet });
    store.append(ids[0]!, 3);
    store.append(ids[1]!, 0);
    store.append(ids[0]!, 5); // replaces the 3
    assert.throws(() => store.append(ids[2]!, 6), new RegExp(`score of galaxy '${ids[2]}' must be an integer from 0 to 5, got 6`));
    assert.throws(() => store.append(ids[2]!, 2.5), new RegExp(`galaxy '${ids[2]}'.*got 2.5`));
    // On disk at once, one JSON object per line after the header.
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.equal(lines[0].galmorph, 'anomaly-labels');
    assert.equal(lines[0].embeddings.galaxies, 40);
    assert.deepEqual(lines.slice(1).map((l) => [l.id, l.score]), [[ids[0], 3], [ids[1], 0], [ids[0], 5]]);
    assert.ok(lines.slice(1).every((l) => !Number.isNaN(Date.parse(l.time))));

    const again = LabelStore.open(file, { embeddings: embeddingsFingerprint(emb, 'moved/emb.parquet'), ...quiet }); // a moved file is the same embeddings
    assert.deepEqual([...again.labels()], [[ids[1], 0], [ids[0], 5]]);
    assert.equal(again.count, 2);
    assert.equal(again.records().length, 3);
  });

  it('tolerates a torn last line with a warning naming the file and line, and appends after it cleanly', () => {
    const file = path.join(tempDir(), 'labels.jsonl');
    const store = LabelStore.open(file, quiet);
    store.append(ids[0]!, 4);
    store.append(ids[1]!, 1);
    fs.appendFileSync(file, `{"id":"${ids[2]}","sco`); // a write cut short by a crash
    const seen: string[] = [];
    const loaded = readLabels(file, { onWarning: (w) => seen.push(w) });
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 4: ignoring an incomplete last line`));
    assert.deepEqual([...loaded.labels], [[ids[0], 4], [ids[1], 1]]);

    const reopened = LabelStore.open(file, quiet);
    reopened.append(ids[2]!, 2);
    const after = readLabels(file, { onWarning: () => assert.fail('no warning expected after the repair') });
    assert.deepEqual([...after.labels], [[ids[0], 4], [ids[1], 1], [ids[2], 2]]);
    assert.equal(after.records[2]!.line, 4);
  });

  it('a bad line in the middle is an error naming the file and line (and the galaxy for a bad score)', () => {
    const dir = tempDir();
    const corrupt = path.join(dir, 'corrupt.jsonl');
    fs.writeFileSync(corrupt, `{"id":"a","score":1,"time":""}\n{"id":"b","sc\n{"id":"c","score":2,"time":""}\n`);
    assert.throws(() => readLabels(corrupt, quiet), new RegExp(`corrupt\\.jsonl, line 2: not valid JSON`));
    const badScore = path.join(dir, 'bad-score.jsonl');
    fs.writeFileSync(badScore, `{"id":"a","score":1,"time":""}\n{"id":"b","score":9,"time":""}\n`);
    assert.throws(() => readLabels(badScore, quiet), /bad-score\.jsonl, line 2: score of galaxy 'b' must be an integer from 0 to 5, got 9/);
    assert.throws(() => LabelStore.open(badScore, quiet), /line 2/); // never appended to
  });

  it('refuses to resume with other embeddings, naming both', () => {
    const file = path.join(tempDir(), 'labels.jsonl');
    LabelStore.open(file, { embeddings: embeddingsFingerprint(emb, 'first.parquet'), ...quiet }).append(ids[0]!, 1);
    const other = voteEmbeddings(gz2Sample(41));
    assert.throws(
      () => LabelStore.open(file, { embeddings: embeddingsFingerprint(other, 'second.parquet'), ...quiet }),
      /holds scores made with other embeddings: it was started with .*first\.parquet \(40 galaxies.*this session uses .*second\.parquet \(41 galaxies/,
    );
  });
});

describe('anomaly session', () => {
  const catalog = gz2Sample(40);
  const emb = voteEmbeddings(catalog);

  it('writes each score before the finder learns it, resumes from the file and never proposes a scored galaxy', () => {
    const file = path.join(tempDir(), 'labels.jsonl');
    const s1 = AnomalySession.open(emb, file, quiet);
    assert.equal(s1.resumed, 0);
    const first = s1.next(4);
    assert.equal(first.length, 4);
    first.forEach((id, i) => {
      s1.score(id, i + 1);
      assert.equal(readLabels(file, quiet).labels.get(id), i + 1, 'on disk as soon as score() returns');
    });
    assert.throws(() => s1.score('no-such-galaxy', 3), /galaxy 'no-such-galaxy' is not among the 40 galaxies/);
    assert.throws(() => s1.scoreMany({ [emb.ids[39]!]: 2, [emb.ids[38]!]: 7 }), /must be an integer from 0 to 5, got 7/);
    assert.equal(readLabels(file, quiet).labels.size, 4, 'a bad entry writes none of scoreMany');
    assert.deepEqual(s1.best(), { id: first[3], score: 4 });

    const s2 = AnomalySession.open(emb, file, quiet); // as after a crash
    assert.equal(s2.resumed, 4);
    assert.deepEqual([...s2.finder.labelsById()].sort(), first.map((id, i) => [id, i + 1]).sort());
    const proposed = s2.next(10);
    assert.equal(proposed.length, 6, '10 random galaxies in all, 4 already scored');
    assert.ok(proposed.every((id) => !first.includes(id)));
    s2.scoreMany(Object.fromEntries(proposed.map((id, i) => [id, i % 6])));
    assert.equal(s2.phase, 'expected-improvement');
    const chosen = s2.next(5);
    assert.equal(chosen.length, 5);
    assert.ok(chosen.every((id) => !s2.labels().has(id)));
    s2.skip(chosen[0]!);
    assert.ok(!s2.next(5).includes(chosen[0]!), 'a skipped galaxy is not proposed again in this session');
    const ranking = s2.ranking();
    assert.equal(ranking.length, 40);
    assert.deepEqual(ranking.filter((r) => r.label !== undefined).map((r) => r.label), [...s2.labels().values()].sort((a, b) => b - a), 'scored galaxies in the order of their scores');
    assert.ok(ranking.every((r, i) => i === 0 || (r.label ?? r.predicted) <= (ranking[i - 1]!.label ?? ranking[i - 1]!.predicted)), 'each by its known score, else its prediction');
  });

  it('draws a galaxy in the terminal with 24-bit colour half blocks', async () => {
    const art = await terminalImage(catalog.imagePath(catalog.rows[0]!), { width: 16 });
    const lines = art.split('\n');
    assert.equal(lines.length, 8);
    for (const l of lines) assert.equal([...l].filter((c) => c === '▀').length, 16);
    assert.match(lines[0]!, /^\x1b\[38;2;\d+;\d+;\d+m\x1b\[48;2;\d+;\d+;\d+m▀/);
    assert.ok(new Set(art.match(/38;2;\d+;\d+;\d+/g)).size > 10, 'many colours, not a blank image');
  });
});

describe('galmorph anomaly (CLI)', function () {
  this.timeout(300000);
  const catalog = gz2Sample(40);
  const dir = tempDir();
  const embFile = path.join(dir, 'emb.parquet');
  const labels = path.join(dir, 'my-labels.jsonl');
  writeEmbeddings(embFile, voteEmbeddings(catalog));
  const args = ['anomaly', '--embeddings', embFile, '--dataset', 'gz2-hart16-1000', '--labels', labels];
  const shownIds = (out: string) => [...out.matchAll(/^\[\d+\/\d+\] galaxy (\S+)$/gm)].map((m) => m[1]!);

  let scoredBeforeKill: string[] = [];

  it('labels survive a killed interactive session', async () => {
    const child = spawn(process.execPath, [bin, ...args, '--interactive', '--image-width', '16'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // Three scores and one invalid answer; stdin stays open, so the session waits for the fourth galaxy.
    child.stdin.write('4\noops\n0\n5\n');
    const deadline = Date.now() + 120000;
    while ((stdout.match(/^saved /gm) ?? []).length < 3 || !stdout.endsWith('q=quit > ')) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the session ended or stalled before 3 scores:\n${stdout.slice(-2000)}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(child.exitCode, null, 'still running, waiting for the next score');
    child.kill('SIGKILL');
    const { signal } = await exited;
    assert.equal(signal, 'SIGKILL');

    assert.match(stdout, /no scores yet: a new session/);
    assert.match(stdout, /'oops' is not an answer: type a score 0-5, s to skip or q to quit/);
    assert.match(stdout, /\x1b\[38;2;\d+;\d+;\d+m\x1b\[48;2;\d+;\d+;\d+m▀/, 'the galaxy drawn in 24-bit colour');
    assert.match(stdout, /^image \/.+\.(jpg|jpeg|png)$/m);
    const shown = shownIds(stdout);
    assert.equal(shown.length, 4, 'three scored, the fourth on screen when killed');
    scoredBeforeKill = shown.slice(0, 3);
    const onDisk = readLabels(labels, quiet);
    assert.deepEqual(onDisk.records.map((r) => [r.id, r.score]), [[shown[0], 4], [shown[1], 0], [shown[2], 5]]);
    assert.equal(onDisk.header?.embeddings?.galaxies, 40);
  });

  it('a restart resumes: reports the scores resumed, never shows them again, refits after each batch, writes the ranking', () => {
    assert.equal(scoredBeforeKill.length, 3, 'needs the killed session of the previous test');
    const ranking = path.join(dir, 'ranking.csv');
    const r = spawnSync(process.execPath, [bin, ...args, '--interactive', '--no-images', '--out', ranking, '--top', '5'], {
      input: '2\n'.repeat(8) + 'q\n',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^resumed 3 labels from ${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(r.stdout, /batch of 7 random galaxies/);
    assert.match(r.stdout, /fitting the Gaussian process to 10 scores/);
    assert.match(r.stdout, /batch of 10 galaxies of highest expected improvement/);
    assert.match(r.stdout, /quit: 11 of 40 galaxies scored \(3 resumed\); best so far: 5 \(galaxy \d+\)/);
    const shown = shownIds(r.stdout);
    assert.equal(shown.length, 9, '8 scored, the ninth on screen at q');
    assert.ok(shown.every((id) => !scoredBeforeKill.includes(id)), 'no galaxy scored before the kill is shown again');
    assert.equal(new Set(shown).size, 9);

    const onDisk = readLabels(labels, quiet);
    assert.equal(onDisk.labels.size, 11);
    assert.deepEqual(shown.slice(0, 8).map((id) => onDisk.labels.get(id)), Array(8).fill(2));

    const rows = fs.readFileSync(ranking, 'utf8').trimEnd().split('\n');
    assert.equal(rows[0], 'rank,id,predicted,std,label');
    assert.equal(rows.length, 41);
    assert.match(rows[1]!, new RegExp(`^1,${scoredBeforeKill[2]},[-0-9.e]+,[0-9.e-]+,5$`), 'the galaxy scored 5 ranks first');
    assert.match(r.stdout, /ranking of 40 galaxies from 11 scores/);
  });

  it('without --interactive prints the ranking from the stored scores; refuses other embeddings or a missing file', () => {
    const r = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', embFile, '--labels', labels, '--top', '3'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const table = r.stdout.trim().split('\n').slice(-4);
    assert.match(table[0]!, /^ +rank +id +predicted +std +label$/);
    assert.match(table[1]!, new RegExp(`^ +1 +${scoredBeforeKill[2]} +[-0-9.]+ +[0-9.]+ +5$`));
    assert.equal(table.length, 4);
    const withPrior = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', embFile, '--labels', labels, '--top', '3', '--prior', 'isolation-forest'], { encoding: 'utf8' });
    assert.equal(withPrior.status, 0, withPrior.stderr);
    assert.match(withPrior.stdout.trim().split('\n').slice(-3)[0]!, new RegExp(`^ +1 +${scoredBeforeKill[2]} +[-0-9.]+ +[0-9.]+ +5$`), 'with the prior too, the galaxy scored 5 leads');
    const badPrior = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', embFile, '--labels', labels, '--prior', 'lof'], { encoding: 'utf8' });
    assert.equal(badPrior.status, 1);
    assert.match(badPrior.stderr, /unknown --prior 'lof'. Valid choices: none, isolation-forest/);

    const otherEmb = path.join(dir, 'other.parquet');
    writeEmbeddings(otherEmb, voteEmbeddings(gz2Sample(41)));
    const other = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', otherEmb, '--labels', labels], { encoding: 'utf8' });
    assert.equal(other.status, 1);
    assert.match(other.stderr, /holds scores made with other embeddings: it was started with .*emb\.parquet \(40 galaxies.*other\.parquet \(41 galaxies/);

    const missing = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', embFile, '--labels', path.join(dir, 'none.jsonl')], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /labels file not found: .*none\.jsonl/);
  });
});

describe('anomaly notebook form', () => {
  it('shows the next galaxies with 0-5 buttons whose kernel call writes the score to disk', async () => {
    const catalog = gz2Sample(20);
    const file = path.join(tempDir(), 'labels.jsonl');
    const session = AnomalySession.open(voteEmbeddings(catalog), file, { batchSize: 4, ...quiet });
    const form = await anomalyFormHtml(session, catalog, { variable: 'mySession' });
    assert.equal(form.ids.length, 4);
    for (const id of form.ids) {
      assert.ok(form.html.includes(`<figcaption style="margin:2px 0;overflow-wrap:anywhere;font-weight:600">${id}</figcaption>`));
      for (let s = 0; s <= 5; s++) assert.ok(form.html.includes(`data-galaxy-id="${id}" data-score="${s}"`), `button ${s} of ${id}`);
    }
    assert.equal(form.html.match(/<button [^>]*class="galmorph-score"/g)?.length, 24);
    assert.equal(form.html.match(/<img [^>]*src="data:image\/jpeg;base64,/g)?.length, 4);
    // (assert.ok rather than assert.match: a failure would print the whole page of base64 images)
    assert.ok(/IPython\.notebook\.kernel\b.*\.execute\(/.test(form.html), 'buttons run code in the kernel');
    assert.ok(/Buttons need the classic Jupyter Notebook/.test(form.html));
    assert.ok(/mySession\.score\(&quot;\d+&quot;, 3\)/.test(form.html), 'the fallback: score from a cell');
    assert.ok(/mySession\.scoreMany\(\{ &quot;\d+&quot;: 3/.test(form.html), 'the fallback: several at once');
    assert.ok(form.html.includes(file), 'names the labels file');

    // What a button click runs in the kernel:
    const reply = (globalThis as unknown as Record<string, (k: string, id: string, s: number) => string>)[FORM_REGISTRY_GLOBAL]!(form.key, form.ids[1]!, 4);
    assert.match(reply, new RegExp(`^saved 4 for ${form.ids[1]}: 1 of 20 galaxies scored`));
    assert.equal(readLabels(file, quiet).labels.get(form.ids[1]!), 4);
    const next = await anomalyFormHtml(session, catalog);
    assert.ok(!next.ids.includes(form.ids[1]!));
    assert.throws(() => (globalThis as unknown as Record<string, (k: string, id: string, s: number) => string>)[FORM_REGISTRY_GLOBAL]!('form-x', form.ids[0]!, 1), /no anomaly form 'form-x'/);
  });

  type Registry = ((k: string, id: string, s: number) => string) & { skip: (k: string, id: string) => string; undo: (k: string) => string };
  const registry = () => (globalThis as unknown as Record<string, Registry>)[FORM_REGISTRY_GLOBAL]!;

  it('captions from the catalogue, images that zoom, skip, undo and a next-batch button; its script parses', async () => {
    const catalog = gz2Sample(20);
    const file = path.join(tempDir(), 'labels.jsonl');
    const session = AnomalySession.open(voteEmbeddings(catalog), file, { batchSize: 3, ...quiet });
    const form = await anomalyFormHtml(session, catalog, { size: 96, captions: (r) => `class ${r.gz2_class} <b>` });
    const byId = new Map(catalog.rows.map((r) => [r[catalog.idCol]!, r]));
    for (const id of form.ids) assert.ok(form.html.includes(`<div class="galmorph-caption" style="color:#333;overflow-wrap:anywhere;margin-bottom:2px">class ${byId.get(id)!.gz2_class} &lt;b&gt;</div>`), `caption of ${id}`);
    assert.equal(form.html.match(/class="galmorph-skip" data-galaxy-id=/g)?.length, 3);
    assert.equal(form.html.match(/class="galmorph-undo"/g)?.length, 1);
    assert.equal(form.html.match(/class="galmorph-next"/g)?.length, 1);
    // Images are shown at 96 px and carry 320 px for the zoomed view.
    const imgs = [...form.html.matchAll(/<img class="galmorph-zoomable" src="data:image\/jpeg;base64,([^"]+)" width="96" height="96"/g)];
    assert.equal(imgs.length, 3);
    assert.equal((await sharp(Buffer.from(imgs[0]![1]!, 'base64')).metadata()).width, 320);
    const script = /<script>([\s\S]*)<\/script>/.exec(form.html)![1]!;
    assert.doesNotThrow(() => new vm.Script(script), 'the form\'s script is valid JavaScript');
    assert.ok(script.includes('execute_cells('), 'next batch runs the form\'s cell again');

    // skip: not proposed again this session, nothing on disk
    assert.match(registry().skip(form.key, form.ids[0]!), new RegExp(`^skipped ${form.ids[0]}`));
    // undo: a first score is withdrawn; a re-score goes back to the score before it
    registry()(form.key, form.ids[1]!, 5);
    registry()(form.key, form.ids[2]!, 1);
    registry()(form.key, form.ids[2]!, 4);
    assert.match(registry().undo(form.key), new RegExp(`^undid 4 for ${form.ids[2]} \\(back to 1\\)`));
    assert.equal(readLabels(file, quiet).labels.get(form.ids[2]!), 1);
    registry().undo(form.key); // the 1 of ids[2], which had no score before it
    assert.match(registry().undo(form.key), new RegExp(`^undid 5 for ${form.ids[1]} \\(unscored again\\): 0 of 20 galaxies scored`));
    assert.match(registry().undo(form.key), /^nothing to undo/);
    assert.deepEqual([...readLabels(file, quiet).labels], [], 'the withdrawals are on disk');
    const reopened = AnomalySession.open(voteEmbeddings(catalog), file, quiet);
    assert.equal(reopened.labelledCount, 0, 'a reopened session sees the undone scores gone');
    const next = await anomalyFormHtml(session, catalog);
    assert.ok(!next.ids.includes(form.ids[0]!), 'a skipped galaxy is not shown again');
  });

  it('warns while the Gaussian process predicts every galaxy alike, and not once the scores differ', async () => {
    const catalog = gz2Sample(30);
    const session = AnomalySession.open(voteEmbeddings(catalog), path.join(tempDir(), 'labels.jsonl'), { batchSize: 5, initialLabels: 4, ...quiet });
    assert.equal(flatWarning(session), undefined, 'no warning before the process is used');
    const ids = catalog.ids();
    const smooth = catalog.numbers('t01_smooth_or_features_a01_smooth_weighted_fraction');
    const order = ids.map((id, i) => ({ id, s: smooth[i]! })).sort((a, b) => a.s - b.s);
    const [featured, mostSmooth] = [order.slice(0, 3), order.slice(-3)];
    // Every score alike: nothing for the process to learn from.
    for (const g of [...featured, ...mostSmooth]) session.score(g.id, 0);
    const flat = await anomalyFormHtml(session, catalog);
    assert.ok(flat.html.includes('class="galmorph-flat-warning"'));
    assert.match(flatWarning(session)!, /still flat: it predicts every unscored galaxy alike/);
    // The smoothest galaxies are what this researcher wants: the process tells the others apart.
    for (const g of mostSmooth) session.score(g.id, 5);
    assert.equal(flatWarning(session), undefined, 'scores that differ make predictions that differ');
    const informed = await anomalyFormHtml(session, catalog);
    assert.ok(!informed.html.includes('galmorph-flat-warning'));
  });
});
