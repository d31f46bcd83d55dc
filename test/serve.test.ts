/**
 * `galmorph serve`, the galaxy explorer, driven in Debian's Chromium through playwright-core: the
 * page from one command, keyboard scoring into the shared labels file and its resume after a kill,
 * neighbours equal to `galmorph similar`, the security rules, and "ring" in words.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import Papa from 'papaparse';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { initBackend } from '../src/backend/select';
import { readCatalog } from '../src/data/catalog';
import { Embeddings, writeEmbeddings } from '../src/data/embeddings';
import { encode } from '../src/encoders/encode';
import { loadEncoder } from '../src/encoders/registry';
import { loadModel } from '../src/models/predict';
import { projectRoot, resolveDataPath } from '../src/paths';
import { findChromium } from '../src/plots/export';
import { rankingPrecision } from '../src/serve/evaluate';
import { Explorer } from '../src/serve/explorer';
import { startServer } from '../src/serve/server';
import * as tf from '@tensorflow/tfjs';
import { AnswerSpace, buildGalaxyModel } from '../src/models/galaxy-model';
import { gz2Sample, tempDir } from './support/fixtures';

const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
const EVIL_ID = '<script>window.__pwned=1</script>';
const EVIL_NOTE = '<img src=x onerror="window.__pwned=2">';

/** A running `galmorph serve` child and its URL. */
interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /galmorph explorer: (http:\/\/\S+\/)/.exec(out);
      if (m) resolve({ child, url: m[1]!, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`galmorph serve exited with ${code}: ${err}`)));
  });
}

function kill(s: Served, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (s.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill(signal);
  });
}

/** A raw GET (the path is sent exactly as given, no normalisation). */
function rawGet(url: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: target, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('galmorph serve: the galaxy explorer in the browser', function () {
  this.timeout(600000);
  let dir: string;
  let catalogFile: string;
  let embeddingsFile: string;
  let embeddings: Embeddings;
  let browser: Browser;
  const offsite: string[] = [];

  before(async function () {
    const executablePath = findChromium();
    if (!executablePath) throw new Error('these tests need Chromium (/usr/bin/chromium): sudo apt-get install -y chromium');
    await initBackend('wasm');
    dir = tempDir('galmorph-serve-');
    // 30 galaxies of the shared ring set (absolute image paths), plus one whose id and note are markup
    const rings = readCatalog(resolveDataPath('decals-rings-470/catalog.csv'), { idCol: 'iauname' });
    const rows = rings.rows.slice(0, 30).map((r) => ({ id: r.iauname!, file: rings.imagePath(r), ring: r.ring!, note: 'plain' }));
    rows.push({ id: EVIL_ID, file: rows[0]!.file, ring: '0', note: EVIL_NOTE });
    catalogFile = path.join(dir, 'catalog.csv');
    fs.writeFileSync(catalogFile, `${Papa.unparse(rows, { newline: '\n' })}\n`);
    const encoder = await loadEncoder('galmorph');
    embeddings = await encode(encoder, readCatalog(catalogFile));
    encoder.dispose();
    embeddingsFile = path.join(dir, 'emb.parquet');
    writeEmbeddings(embeddingsFile, embeddings);
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'] });
  });

  after(async () => {
    await browser?.close();
  });

  /** A page that fails the test on any request that leaves the server. */
  async function open(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const origin = new URL(url).origin;
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
      offsite.push(u);
      return route.abort();
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready=yes]');
    return page;
  }

  afterEach(() => assert.deepEqual(offsite.splice(0), [], 'the page asked for nothing outside its server'));

  it('serves the page from one command, bound to 127.0.0.1, and shows the galaxies with their images', async () => {
    const s = await serve(['--embeddings', embeddingsFile, '--catalog', catalogFile, '--no-model', '--labels', path.join(dir, 'browse.jsonl')]);
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await open(s.url);
      const ids = await page.$$eval('#browse-grid .tile', (ts) => ts.map((t) => t.getAttribute('data-id')));
      assert.deepEqual(ids, embeddings.ids);
      await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>("#browse-grid img")).slice(0, 5).every((i) => i.complete && i.naturalWidth > 0));
      // a galaxy opens with its catalogue columns
      await page.click(`#browse-grid .tile[data-id="${embeddings.ids[2]}"]`);
      await page.waitForFunction((id) => document.getElementById('detail-id')?.textContent === id, embeddings.ids[2]);
      const cells = await page.$$eval('#detail-columns td', (tds) => tds.map((t) => t.textContent));
      assert.ok(cells.includes('ring') && cells.includes(embeddings.ids[2]!));
      // the map draws every galaxy (plotly from node_modules), and a selection lists its galaxies
      await page.click('#tabs button[data-view=map]');
      await page.waitForSelector('#map-plot[data-ready=yes]');
      assert.equal(await page.$$eval('#map-plot .scatterlayer .point', (ps) => ps.length), embeddings.ids.length);
      await page.evaluate((ids) => {
        const plot = document.getElementById('map-plot') as unknown as { emit: (e: string, d: unknown) => void };
        plot.emit('plotly_selected', { points: ids.map((customdata) => ({ customdata })) });
      }, embeddings.ids.slice(0, 3));
      assert.deepEqual(await page.$$eval('#map-grid .tile', (ts) => ts.map((t) => t.getAttribute('data-id'))), embeddings.ids.slice(0, 3));
      // not on other addresses of this machine
      const external = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
      if (external) {
        const port = new URL(s.url).port;
        await assert.rejects(rawGet(`http://${external.address}:${port}/`, '/'), /ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT/);
      }
      await page.close();
    } finally {
      await kill(s);
    }
  });

  it('scoring 5 galaxies with the keyboard writes 5 lines; a killed and restarted server resumes them and never shows them again', async () => {
    const labels = path.join(dir, 'scores.jsonl');
    const args = ['--embeddings', embeddingsFile, '--catalog', catalogFile, '--no-model', '--labels', labels, '--batch', '4', '--initial', '3'];
    let s = await serve(args);
    const scored: string[] = [];
    let page = await open(s.url);
    await page.click('#tabs button[data-view=anomaly]');
    const shown = async () => {
      await page.waitForSelector('#anomaly-current[data-ready=yes], #anomaly-current[data-ready=done]');
      return page.getAttribute('#anomaly-current', 'data-id');
    };
    for (let i = 0; i < 5; i++) {
      const id = (await shown())!;
      assert.ok(!scored.includes(id), `${id} shown twice`);
      scored.push(id);
      await page.keyboard.press(String(i % 6));
      await page.waitForFunction((prev) => document.getElementById('anomaly-current')!.getAttribute('data-id') !== prev, id);
    }
    // 5 lines after the header, in order, each on disk before the next galaxy showed
    const lines = fs.readFileSync(labels, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 6);
    assert.equal(lines[0]!.galmorph, 'anomaly-labels');
    assert.deepEqual(lines.slice(1).map((l) => [l.id, l.score]), scored.map((id, i) => [id, i % 6]));
    await page.close();
    await kill(s, 'SIGKILL');

    // the CLI reads the same session
    const cli = spawnSync(process.execPath, [bin, 'anomaly', '--embeddings', embeddingsFile, '--labels', labels, '--top', '3'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /from 5 scores/);

    s = await serve(args);
    try {
      page = await open(s.url);
      await page.click('#tabs button[data-view=anomaly]');
      await shown();
      assert.match((await page.textContent('#anomaly-state'))!, /^5 of 31 scored \(5 resumed/);
      // every remaining galaxy, by keyboard: none of the 5 comes back
      const seen = new Set<string>();
      for (;;) {
        const id = await shown();
        if (!id) break;
        assert.ok(!scored.includes(id), `${id} was scored before the restart and was shown again`);
        assert.ok(!seen.has(id), `${id} shown twice`);
        seen.add(id);
        await page.keyboard.press(seen.size % 7 === 0 ? 's' : String(seen.size % 6));
        await page.waitForFunction((prev) => document.getElementById('anomaly-current')!.getAttribute('data-id') !== prev, id);
      }
      assert.equal(seen.size, 26);
      assert.match((await page.textContent('#anomaly-ranking'))!, /1\./, 'the live ranking is shown');
      const csv = await rawGet(s.url, '/export/anomaly-ranking.csv', { host: new URL(s.url).host });
      assert.equal(csv.status, 200);
      assert.equal(csv.body.trim().split('\n').length, 32);
      await page.close();
    } finally {
      await kill(s);
    }
    const total = fs.readFileSync(labels, 'utf8').trim().split('\n').length;
    assert.equal(total, 1 + 5 + 26 - Math.floor(26 / 7));
  });

  it('clicking a galaxy shows the same neighbours as galmorph similar', async () => {
    const s = await serve(['--embeddings', embeddingsFile, '--catalog', catalogFile, '--no-model', '--labels', path.join(dir, 'similar.jsonl')]);
    try {
      const page = await open(s.url);
      const query = embeddings.ids[7]!;
      await page.click(`#browse-grid .tile[data-id="${query}"]`);
      await page.click('#tabs button[data-view=similar]');
      await page.waitForFunction((q) => document.getElementById('similar-query')?.textContent === q, query);
      const onPage = await page.$$eval('#similar-grid .tile', (ts) => ts.map((t) => t.getAttribute('data-id')));
      const cli = spawnSync(process.execPath, [bin, 'similar', '--embeddings', embeddingsFile, '--query', query, '--k', '10'], { encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      const fromCli = cli.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]);
      assert.equal(onPage.length, 10);
      assert.deepEqual(onPage, fromCli);
      // "like these" from two galaxies ranks them first
      await page.click('#detail-like');
      await page.click(`#similar-grid .tile[data-id="${onPage[0]}"]`);
      await page.waitForFunction((id) => document.getElementById('detail-id')?.textContent === id, onPage[0]);
      await page.click('#detail-like');
      await page.click('#like-rank');
      await page.waitForSelector('#like-grid .tile');
      const ranked = await page.$$eval('#like-grid .tile', (ts) => ts.slice(0, 2).map((t) => t.getAttribute('data-id')));
      assert.deepEqual([...ranked].sort(), [query, onPage[0]].sort());
      // the selections as CSV, through the page's own export route
      const csv = await page.evaluate(async (ids) => {
        const res = await fetch('/export/list.csv', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'selections.csv', rows: ids.map((id) => ({ id, list: 'like' })) }) });
        return res.text();
      }, [query, onPage[0]!]);
      assert.equal(csv, `rank,id,score,list\n1,${query},,like\n2,${onPage[0]},,like\n`);
      await page.close();
    } finally {
      await kill(s);
    }
  });

  it('refuses paths outside the catalogue, escapes ids and catalogue strings, refuses labels of other embeddings and foreign Host headers', async () => {
    const labels = path.join(dir, 'security.jsonl');
    const s = await serve(['--embeddings', embeddingsFile, '--catalog', catalogFile, '--no-model', '--labels', labels]);
    try {
      const host = { host: new URL(s.url).host };
      const secret = path.join(dir, 'secret.txt');
      fs.writeFileSync(secret, 'top secret');
      const sibling = path.join(path.dirname(readCatalog(catalogFile).imagePath(readCatalog(catalogFile).rows[0]!)), 'not-in-catalogue.jpg');
      for (const target of [
        '/image/../../../../etc/passwd',
        '/image/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
        '/image/%2e%2e/%2e%2e/catalog.csv',
        `/image/${encodeURIComponent('/etc/passwd')}`,
        `/image/${encodeURIComponent(secret)}`,
        `/image/${encodeURIComponent(catalogFile)}`,
        `/image/${encodeURIComponent(sibling)}`,
        '/static/../../package.json',
        '/static/..%2f..%2fpackage.json',
        '//etc/passwd',
        '/etc/passwd',
      ]) {
        const r = await rawGet(s.url, target, host);
        assert.ok(r.status >= 400 && r.status < 500, `${target}: ${r.status}`);
        assert.ok(!/root:|top secret|"name": "galmorph"|iauname/.test(r.body), `${target} leaked a file`);
      }
      // a real galaxy's image is served
      assert.equal((await rawGet(s.url, `/image/${encodeURIComponent(embeddings.ids[0]!)}`, host)).status, 200);
      // DNS rebinding: a foreign Host is refused
      assert.equal((await rawGet(s.url, '/api/info', { host: 'evil.example:80' })).status, 403);

      const page = await open(s.url);
      const evil = page.locator('#browse-grid .tile').last();
      assert.equal(await evil.getAttribute('data-id'), EVIL_ID);
      assert.equal(await evil.locator('figcaption').textContent(), EVIL_ID);
      await evil.click();
      await page.waitForFunction((id) => document.getElementById('detail-id')?.textContent === id, EVIL_ID);
      const cells = await page.$$eval('#detail-columns td', (tds) => tds.map((t) => t.textContent));
      assert.ok(cells.includes(EVIL_NOTE));
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'no markup from the data ran');
      assert.equal(await page.$$eval('#views script, #detail script, #detail img[src=x]', (e) => e.length), 0);
      await page.close();
    } finally {
      await kill(s);
    }

    // the labels file now belongs to these embeddings: others are refused
    const other = path.join(dir, 'other.parquet');
    writeEmbeddings(other, { ...embeddings, vectors: embeddings.vectors.map((v, i) => (i === 0 ? v + 1 : v)) });
    const r = spawnSync(process.execPath, [bin, 'serve', '--embeddings', other, '--catalog', catalogFile, '--no-model', '--labels', labels, '--port', '0'], { encoding: 'utf8', timeout: 60000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /holds scores made with other embeddings/);
  });

  it('words rank by the latest model\'s predictions after the explorer predicts again with another', async () => {
    const catalog = gz2Sample(8);
    const dim = 4;
    const file = path.join(tempDir(), 'e.parquet');
    writeEmbeddings(file, { ids: catalog.ids(), vectors: Float32Array.from({ length: 8 * dim }, (_, i) => Math.sin(i)), dim });
    const config = { arch: 'smallcnn', size: 32, channels: 3 as const, dropout: 0, schemas: ['gz2'] };
    const model = (seed: number) => {
      const m = buildGalaxyModel(config);
      // Distinct, deterministic weights per seed, so the two models rank the galaxies differently.
      m.setWeights(m.getWeights().map((w, k) => tf.tidy(() => tf.randomNormal(w.shape, 0, 0.5, 'float32', seed * 100 + k))));
      return { model: m, config, space: AnswerSpace.fromNames(['gz2']), dir: '' };
    };
    const [a, b] = [model(1), model(2)];
    const ranking = async (models: typeof a[]) => {
      const explorer = Explorer.open({ embeddings: file, catalog, labels: path.join(tempDir(), 'l.jsonl') });
      for (const m of models) {
        await explorer.predict(m, 1);
        explorer.rankByWords(explorer.describe('smooth').terms);
      }
      return explorer.rankByWords(explorer.describe('smooth').terms).map((r) => `${r.id}:${r.score.toFixed(6)}`);
    };
    const onlyB = await ranking([b]);
    assert.notDeepEqual(await ranking([a]), onlyB, 'the two models must rank differently for this test to mean anything');
    assert.deepEqual(await ranking([a, b]), onlyB);
    a.model.dispose();
    b.model.dispose();
  });

  it('"ring" in words ranks by the answers it shows, as the library does; precision against "like these" from one ring galaxy is measured', async function () {
    // all 470 galaxies of the shared ring set, in process (one prediction pass)
    const catalog = readCatalog(resolveDataPath('decals-rings-470/catalog.csv'), { idCol: 'iauname' });
    const encoder = await loadEncoder('galmorph');
    const e = await encode(encoder, catalog);
    encoder.dispose();
    const file = path.join(dir, 'rings.parquet');
    writeEmbeddings(file, e);
    const explorer = Explorer.open({ embeddings: file, catalog, labels: path.join(dir, 'rings.jsonl') });
    await explorer.predict(await loadModel());
    const running = await startServer(explorer);
    try {
      const page = await open(running.url);
      await page.click('#tabs button[data-view=describe]');
      await page.fill('#describe-text', 'ring');
      await page.press('#describe-text', 'Enter');
      await page.waitForSelector('#describe-grid .tile');
      const shownAnswers = await page.$$eval('#describe-terms input[type=number]', (is) => is.length);
      assert.match((await page.textContent('#describe-terms'))!, /ring → gz2\/t08_odd_feature_a19_ring/);
      assert.equal(shownAnswers, 1);
      const onPage = await page.$$eval('#describe-grid .tile', (ts) => ts.map((t) => t.getAttribute('data-id')));
      const library = explorer.rankByWords(explorer.describe('ring').terms).slice(0, onPage.length).map((r) => r.id);
      assert.deepEqual(onPage, library);
      await page.close();
    } finally {
      await running.close();
    }
    const tagged = new Set(catalog.rows.filter((r) => r.ring === '1').map((r) => r.iauname!));
    const p = rankingPrecision(explorer, 'ring', tagged);
    const fmt = (v: number[]) => v.map((x, i) => `P@${p.k[i]} ${x.toFixed(3)}`).join(', ');
    console.log(`      ring precision (${tagged.size} of ${explorer.size} tagged, random ${p.random.toFixed(3)}): words [${p.answers.join(', ')}] ${fmt(p.words)}; like these from one ring galaxy (mean of ${p.seeds}) ${fmt(p.likeOne)}`);
    assert.ok(p.likeOne[2]! > p.random, '"like these" from one ring galaxy beats random at 50');
    // The README's claim for the committed prediction model (Monte Carlo dropout is seeded: the same every run).
    assert.ok(p.words[2]! > p.random, '"ring" in words beats random at 50 with the committed model');
  });
});
