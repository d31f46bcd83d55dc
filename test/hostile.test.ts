/**
 * The thirteen defects of issue 15 (found by hostile testing), one test each, named by number:
 * planted worker scripts, resumed outputs from other inputs, runs mixed in one folder, manifest
 * paths and downloads leaving their bounds, non-finite votes, one-off HNSW builds, one bad image
 * stopping a whole run, errors without the file, terminal escapes in ids, and a read-only command
 * that wrote. docs/promises.md says what these tests back.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import Papa from 'papaparse';
import { initBackend } from '../src/backend/select';
import { workerCacheDir, writeTemp } from '../src/backend/wasm-threads';
import { Catalog, readCatalog } from '../src/data/catalog';
import { downloadFile } from '../src/data/download';
import { readEmbeddings, writeEmbeddings } from '../src/data/embeddings';
import { writeFits } from '../src/data/fits';
import { readImage } from '../src/data/images';
import { confinedPath, fetchManifest, loadManifests, parseManifest } from '../src/data/manifests';
import { galaxyModelEncoder } from '../src/encoders/registry';
import { AnswerSpace, buildGalaxyModel } from '../src/models/galaxy-model';
import { projectRoot } from '../src/paths';
import { embedCatalog } from '../src/representations/embed';
import { AnomalySession } from '../src/anomaly/session';
import { formatRanking } from '../src/cli/anomaly';
import { printable } from '../src/cli/terminal-text';
import { schemaByName } from '../src/schemas/galaxy-zoo';
import { fromCatalog } from '../src/schemas/vote-datasets';
import { voteCounts } from '../src/schemas/votes';
import { trainGalaxyModel, TrainOptions } from '../src/training/train-galaxy';
import { gz2Sample, tempDir } from './support/fixtures';

const BIN = path.join(projectRoot(), 'bin', 'galmorph.js');
const GZ2_VOTES = { fractions: '{answer}_weighted_fraction', total: 'total_classifications' };

function galmorph(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

/** A CSV of real GZ2 galaxies (absolute image paths); `bad` rows get an unreadable image instead. */
function catalogFile(dir: string, n: number, bad: number[] = [], name = 'catalog.csv'): { file: string; catalog: Catalog } {
  const src = gz2Sample(n);
  const junk = path.join(dir, 'junk.jpg');
  fs.writeFileSync(junk, Buffer.from('this is not a JPEG at all'));
  const rows = src.rows.map((r, i) => ({ ...r, file: bad.includes(i) ? junk : src.imagePath(r) }));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Papa.unparse(rows, { newline: '\n' }));
  return { file, catalog: readCatalog(file, { idCol: 'asset_id' }) };
}

function smallEncoder() {
  const config = { arch: 'smallcnn', size: 32, channels: 3 as const, dropout: 0.5, schemas: ['gz2'] };
  return galaxyModelEncoder({ model: buildGalaxyModel(config), config, space: AnswerSpace.fromNames(['gz2']), dir: '' });
}

describe('issue 15: hostile inputs', function () {
  this.timeout(300_000);
  before(() => initBackend('wasm'));

  it('defect 1: a planted or tampered worker script in the temp folder is never run (private 0700 cache, content verified)', function () {
    if (typeof process.getuid !== 'function') this.skip();
    const tmp = tempDir();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const text = 'self.onmessage = () => 1;\n';
      const file = writeTemp(text);
      const dir = path.dirname(file);
      const st = fs.statSync(dir);
      assert.equal(st.uid, process.getuid!(), 'the cache folder is ours');
      assert.equal(st.mode & 0o077, 0, `the cache folder is private (mode ${(st.mode & 0o777).toString(8)})`);
      // Someone appends a payload to the cached script: it is rewritten before use.
      fs.appendFileSync(file, 'require("fs").writeFileSync("/tmp/pwned", "1");\n');
      assert.equal(writeTemp(text), file);
      assert.equal(fs.readFileSync(file, 'utf8'), text, 'a tampered script is replaced by the real one');
      // A folder others can write to (as one planted by another user would be) is not used.
      fs.chmodSync(dir, 0o777);
      const other = workerCacheDir();
      assert.notEqual(other, dir);
      assert.equal(fs.statSync(other).mode & 0o077, 0);
      assert.equal(fs.readFileSync(writeTemp(text, other), 'utf8'), text);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('defect 2: a resumed embed with a shuffled catalogue, another part size or another model is refused, naming what changed', async () => {
    const encoder = smallEncoder();
    const other = smallEncoder();
    const catalog = gz2Sample(10);
    const out = path.join(tempDir(), 'emb.arrow');
    await assert.rejects(
      embedCatalog(encoder, catalog, out, { partSize: 4, batchSize: 4, onProgress: (done) => { if (done > 4) throw new Error('interrupted'); } }),
      /interrupted/,
    );
    const shuffled = catalog.subset([...catalog.ids()].reverse());
    await assert.rejects(embedCatalog(encoder, shuffled, out, { partSize: 4 }), /cannot resume the embedding in .*emb\.arrow\.parts: .*changed: the catalogue ids or their order.*--overwrite .*or delete .*emb\.arrow\.parts to start afresh/);
    await assert.rejects(embedCatalog(encoder, catalog, out, { partSize: 5 }), /changed: the part size \(--part-size\) \(was 4, now 5\)/);
    await assert.rejects(embedCatalog(other, catalog, out, { partSize: 4 }), /changed: the model \(encoder, model folder, seed or weights\)/);
    assert.deepEqual(fs.readdirSync(`${out}.parts`).sort(), ['fingerprint.json', 'part-000000.arrow'], 'refusals leave the parts as they were');
    const fresh = await embedCatalog(encoder, shuffled, out, { partSize: 4, overwrite: true });
    assert.deepEqual(fresh.ids, shuffled.ids());
    assert.equal(new Set(fresh.ids).size, 10);
    assert.equal(readEmbeddings(out).ids.length, 10);
    encoder.dispose();
    other.dispose();
  });

  describe('training', () => {
    const dir = tempDir();
    const { catalog } = catalogFile(dir, 20);
    const base = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
      datasets: [fromCatalog(catalog, 'gz2', GZ2_VOTES)],
      out,
      model: { arch: 'smallcnn', size: 32, channels: 3, dropout: 0.5 },
      epochs: 1,
      batchSize: 4,
      maxStepsPerEpoch: 1,
      log: () => undefined,
      ...over,
    });

    it('defect 3: a fresh train into a folder holding a run is refused without --overwrite, and with it never mixes the two runs', async () => {
      const out = path.join(tempDir(), 'model');
      await trainGalaxyModel(base(out));
      const config = fs.readFileSync(path.join(out, 'config.json'), 'utf8');
      await assert.rejects(trainGalaxyModel(base(out, { seed: 1 })), /is not empty \(.*\); give --resume to continue the run in it, --overwrite to replace it, or another --out/);
      assert.equal(fs.readFileSync(path.join(out, 'config.json'), 'utf8'), config, 'the refused run changed nothing');
      // Killed in its first epoch: the old model and checkpoint must not stand beside the new config.
      await assert.rejects(trainGalaxyModel(base(out, { seed: 1, overwrite: true, onStep: () => { throw new Error('killed'); } })), /killed/);
      assert.ok(!fs.existsSync(path.join(out, 'model')), 'no model from the old run');
      assert.ok(!fs.existsSync(path.join(out, 'checkpoint')), 'no checkpoint from the old run');
      assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { training: { seed: number } }).training.seed, 1);
      // The CLI says the same.
      const r = galmorph(['train', '--catalog', catalogFile(dir, 8, [], 'cli.csv').file, '--schema', 'gz2', '--id-col', 'asset_id', '--fractions', GZ2_VOTES.fractions, '--total', GZ2_VOTES.total, '--out', out]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /is not empty.*--overwrite/);
    });

    it('defect 4: --resume with another seed, split or batch size is refused, naming the setting; the same settings resume', async () => {
      const out = path.join(tempDir(), 'model');
      await trainGalaxyModel(base(out));
      await assert.rejects(trainGalaxyModel(base(out, { resume: true, seed: 1 })), /cannot resume .*it was trained with \{"seed":0\}, this run asks for \{"seed":1\} \(changed: seed\).*--overwrite/);
      await assert.rejects(trainGalaxyModel(base(out, { resume: true, split: { val: 0.2, test: 0.1 } })), /changed: split/);
      await assert.rejects(trainGalaxyModel(base(out, { resume: true, batchSize: 8 })), /changed: batchSize/);
      await assert.rejects(trainGalaxyModel(base(out, { resume: true, cropScale: [0.75, 0.75] })), /changed: cropScale/);
      await assert.rejects(trainGalaxyModel(base(out, { resume: true, cropScale: [0.8, 0.7] })), /cropScale must be two area fractions 0 < lo <= hi <= 1, got \[0.8, 0.7\]/);
      const lines: string[] = [];
      const records = await trainGalaxyModel(base(out, { resume: true, epochs: 2, log: (l) => lines.push(l) }));
      assert.ok(lines.some((l) => /resuming after epoch 1/.test(l)), lines.join('\n'));
      assert.deepEqual(records.map((r) => r.epoch), [2]);
    });

    it('defect 9: one unreadable image stops train naming its row and id, or with skipUnreadable is left out and reported', async () => {
      const { catalog: withBad } = catalogFile(tempDir(), 12, [3]);
      const opts = base(path.join(tempDir(), 'model'), { datasets: [fromCatalog(withBad, 'gz2', GZ2_VOTES)] });
      const id = withBad.rows[3]!.asset_id;
      await assert.rejects(trainGalaxyModel(opts), new RegExp(`1 of 12 images cannot be read; the first: .*catalog\\.csv, row 5 \\(id ${id}\\): .*junk\\.jpg.*--skip-unreadable`));
      const skipped: string[] = [];
      await trainGalaxyModel({ ...opts, overwrite: true, skipUnreadable: true, onSkip: (s) => skipped.push(s.where) });
      assert.deepEqual(skipped, [`${withBad.file}, row 5 (id ${id})`]);
    });
  });

  it('defect 5: a manifest folder or file path with .. is refused, and no path leaves its root', () => {
    const manifest = (folder: string, file = 'a.csv') => ({
      id: 'evil', kind: 'dataset', title: 't', citation: ['c'], licence: 'l', folder, availability: 'upstream',
      upstream: [{ url: 'https://example.org' }], files: [{ path: file, size: null, sha256: null, url: 'https://example.org/a.csv' }],
    });
    for (const folder of ['../../outside', 'a/../../outside', 'ok/..']) {
      assert.throws(() => parseManifest(manifest(folder), 'evil.json'), /manifest evil\.json (does not match [\s\S]*\/folder|: folder .* leaves the data roots)/, folder);
    }
    assert.throws(() => parseManifest(manifest('fine', 'x/../../../etc/passwd'), 'evil.json'), /evil\.json/);
    assert.equal(parseManifest(manifest('fine..name'), 'ok.json').folder, 'fine..name');
    assert.throws(() => confinedPath('/cache', '../x', 'y'), /leaves \/cache/);
    assert.equal(confinedPath('/cache', 'a', 'b/c'), path.resolve('/cache/a/b/c'));
  });

  describe('defect 6: downloads', () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 7);
    const small = Buffer.from('eighteen bytes ok\n');
    let server: http.Server;
    let url = '';
    let port = 0;
    before(async () => {
      server = http.createServer((req, res) => {
        if (req.url === '/elsewhere') {
          res.writeHead(302, { location: `http://localhost:${port}/small` });
          return res.end();
        }
        if (req.url === '/huge') {
          res.writeHead(200); // no content-length: the body is cut at the manifest's size
          return res.end(body);
        }
        res.writeHead(200, { 'content-length': small.length });
        res.end(small);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
      url = `http://127.0.0.1:${port}`;
    });
    after(() => server.close());

    it('defect 6: redirects to other hosts, plain http off this machine, unverified redirects and oversized bodies are refused', async () => {
      const dir = tempDir();
      const sha = createHash('sha256').update(small).digest('hex');
      await assert.rejects(downloadFile('http://example.org/a.csv', path.join(dir, 'a')), /cannot download http:\/\/example\.org\/a\.csv: plain http is refused/);
      await assert.rejects(downloadFile(`${url}/elsewhere`, path.join(dir, 'b'), { sha256: sha, allowedHosts: ['127.0.0.1'] }), /a redirect to localhost:\d+ is refused/);
      const saved = process.env.GALMORPH_DOWNLOAD_HOSTS;
      process.env.GALMORPH_DOWNLOAD_HOSTS = 'localhost';
      try {
        // Allowed, but with no checksum the redirected content would become the pinned truth.
        await assert.rejects(downloadFile(`${url}/elsewhere`, path.join(dir, 'c'), { allowedHosts: ['127.0.0.1'] }), /redirects to localhost:\d+, and with no sha256 in the manifest nothing would verify/);
        assert.equal((await downloadFile(`${url}/elsewhere`, path.join(dir, 'd'), { sha256: sha, allowedHosts: ['127.0.0.1'] })).size, small.length);
      } finally {
        if (saved === undefined) delete process.env.GALMORPH_DOWNLOAD_HOSTS;
        else process.env.GALMORPH_DOWNLOAD_HOSTS = saved;
      }
      const dest = path.join(dir, 'e');
      await assert.rejects(downloadFile(`${url}/huge`, dest, { size: 18 }), /refused .*e \(from .*\/huge\): the server sent more bytes, more than the 18 the manifest gives; the download was deleted/);
      assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
      // Through a manifest: its hosts are the allowed ones.
      const mdir = tempDir();
      const cache = tempDir();
      fs.writeFileSync(path.join(mdir, 'm.json'), JSON.stringify({
        id: 'm', kind: 'dataset', title: 't', citation: ['c'], licence: 'l', folder: 'mm', availability: 'upstream',
        upstream: [{ url }], files: [{ path: 'x.bin', size: null, sha256: null, url: `${url}/elsewhere` }],
      }));
      const savedCache = process.env.GALMORPH_CACHE;
      process.env.GALMORPH_CACHE = cache;
      try {
        await assert.rejects(fetchManifest(loadManifests(mdir)[0]!), /a redirect to localhost:\d+ is refused/);
      } finally {
        if (savedCache === undefined) delete process.env.GALMORPH_CACHE;
        else process.env.GALMORPH_CACHE = savedCache;
      }
      assert.ok(!fs.existsSync(path.join(cache, 'mm', 'x.bin')));
    });
  });

  it('defect 7: Infinity (or 1e999) in counts, fractions, totals or any numeric column is an error naming file, row, id and column', () => {
    const gz2 = schemaByName('gz2');
    const fractionCol = 't01_smooth_or_features_a01_smooth_weighted_fraction';
    for (const [column, value, cols] of [
      [fractionCol, 'Infinity', GZ2_VOTES],
      ['total_classifications', '1e999', GZ2_VOTES],
      ['total_classifications', '-Infinity', GZ2_VOTES],
    ] as const) {
      const cat = gz2Sample(3);
      cat.rows[1]![column] = value;
      assert.throws(() => voteCounts(cat, gz2, cols), new RegExp(`catalog\\.csv, row 3 \\(id ${cat.rows[1]!.asset_id}\\): column '${column}' holds '${value}', not a finite number`));
    }
    const dir = tempDir();
    const file = path.join(dir, 'votes.csv');
    fs.writeFileSync(file, 'id,yes,no\na,3,1\nb,Infinity,2\n');
    const cat = readCatalog(file, { imageCol: null });
    assert.throws(() => cat.numbers('yes'), /votes\.csv, row 3 \(id b\): column 'yes' holds 'Infinity', not a finite number/);
    const r = galmorph(['data', 'catalog', file, '--no-images', '--schema', 'gz1', '--class-col', 'yes']);
    assert.notEqual(r.status, 0);
  });

  it('defect 8: similar at 100,000 galaxies answers one query exactly without building an HNSW index, reading Arrow columns directly', function () {
    const n = 100_000;
    const dim = 4;
    const vectors = new Float32Array(n * dim);
    for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(i * 12.9898) * 43758.5453 % 1;
    const ids = Array.from({ length: n }, (_, i) => `g${i}`);
    const file = path.join(tempDir(), 'big.parquet');
    writeEmbeddings(file, { ids, vectors, dim });
    // Read from Arrow's value buffers chunk by chunk (no per-row arrays): the same numbers.
    const back = readEmbeddings(file);
    assert.equal(back.dim, dim);
    assert.ok(back.vectors.every((v, i) => v === vectors[i]), 'every value read back exactly');
    const r = galmorph(['similar', '--embeddings', file, '--query', 'g42', '--k', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /built an HNSW index|approximate search/);
    assert.match(r.stderr, /searching exactly; for many queries build an index once \(galmorph index\)/);
    // The exact answer, by brute force.
    const q = vectors.subarray(42 * dim, 43 * dim);
    const norm = (v: Float32Array) => Math.hypot(...v);
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      if (i === 42) continue;
      const v = vectors.subarray(i * dim, (i + 1) * dim);
      const d = 1 - v.reduce((s, x, j) => s + x * q[j]!, 0) / (norm(v) * norm(q));
      if (d < bestD) [best, bestD] = [i, d];
    }
    assert.match(r.stdout, new RegExp(`^ +1 +g${best} +${bestD.toFixed(5)}$`, 'm'), r.stdout);
  });

  it('defect 9: predict and embed with an unreadable image: an error naming row and id, or --skip-unreadable reporting each and writing the list; a failed embed leaves no .parts folder', async () => {
    const dir = tempDir();
    const { file, catalog } = catalogFile(dir, 5, [1, 3]);
    const ids = catalog.ids();
    const out = path.join(dir, 'preds.csv');
    const failed = galmorph(['predict', '--catalog', file, '--id-col', 'asset_id', '--samples', '1', '--out', out]);
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, new RegExp(`catalog\\.csv, row 3 \\(id ${ids[1]}\\): .*junk\\.jpg.*--skip-unreadable`));
    assert.ok(!fs.existsSync(out), 'no output from a failed predict');
    const ok = galmorph(['predict', '--catalog', file, '--id-col', 'asset_id', '--samples', '1', '--skip-unreadable', '--out', out]);
    assert.equal(ok.status, 0, ok.stderr);
    for (const [i, row] of [[1, 3], [3, 5]] as const) assert.match(ok.stderr, new RegExp(`skipped .*catalog\\.csv, row ${row} \\(id ${ids[i]}\\)`));
    const preds = Papa.parse<Record<string, string>>(fs.readFileSync(out, 'utf8'), { header: true, skipEmptyLines: true }).data;
    assert.deepEqual(preds.map((p) => p.id), [ids[0], ids[2], ids[4]]);
    const list = Papa.parse<Record<string, string>>(fs.readFileSync(path.join(dir, 'preds.skipped.csv'), 'utf8'), { header: true, skipEmptyLines: true }).data;
    assert.deepEqual(list.map((s) => s.where), [`${file}, row 3 (id ${ids[1]})`, `${file}, row 5 (id ${ids[3]})`]);

    const encoder = smallEncoder();
    const emb = path.join(dir, 'emb.parquet');
    await assert.rejects(embedCatalog(encoder, catalog, emb, { partSize: 2 }), new RegExp(`row 3 \\(id ${ids[1]}\\)`));
    assert.ok(!fs.existsSync(`${emb}.parts`), 'no empty .parts folder after a failed embed');
    const skipped: number[] = [];
    const e = await embedCatalog(encoder, catalog, emb, { partSize: 2, skipUnreadable: true, onSkip: (s) => skipped.push(s.index) });
    assert.deepEqual(skipped, [1, 3]);
    assert.deepEqual(e.ids, [ids[0], ids[2], ids[4]]);
    encoder.dispose();
  });

  it('defect 10: a FITS with negative NAXIS, a CSV given as embeddings and an empty CSV are errors naming the file', async () => {
    const dir = tempDir();
    const fits = writeFits([{ data: [1, 2, 3, 4], shape: [2, 2], bitpix: -32 }]).toString('latin1').replace('NAXIS1  =                    2', 'NAXIS1  =                -4096');
    const bad = path.join(dir, 'negative.fits');
    fs.writeFileSync(bad, Buffer.from(fits, 'latin1'));
    await assert.rejects(readImage(bad), /cannot read FITS file .*negative\.fits, HDU 0: NAXIS1 = -4096 is not a whole number/);
    const csv = path.join(dir, 'table.csv');
    fs.writeFileSync(csv, 'id,file\na,a.jpg\n');
    assert.throws(() => readEmbeddings(csv), /table\.csv is not an Arrow IPC file of embeddings/);
    const csvParquet = path.join(dir, 'table.parquet');
    fs.writeFileSync(csvParquet, 'id,file\na,a.jpg\n');
    assert.throws(() => readEmbeddings(csvParquet), /table\.parquet is not a Parquet file of embeddings/);
    const empty = path.join(dir, 'empty.csv');
    fs.writeFileSync(empty, '');
    assert.throws(() => readCatalog(empty), /empty\.csv is empty: a catalogue needs a header line/);
    const r = galmorph(['similar', '--embeddings', csv, '--query', 'a']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /table\.csv/);
  });

  it('defect 11: terminal escape sequences in ids are printed escaped by similar and anomaly', () => {
    const evil = 'g1\x1b]0;pwned\x07\x1b[2J\u202e';
    assert.equal(printable(evil), 'g1\\x1b]0;pwned\\x07\\x1b[2J\\u202e');
    assert.equal(printable('plain\tline\n'), 'plain\tline\n');
    const table = formatRanking([{ rank: 1, id: evil, predicted: 1, std: 0, label: 5 } as never]);
    assert.ok(!/[\x1b\x07\u202e]/.test(table), table);
    const file = path.join(tempDir(), 'e.arrow');
    writeEmbeddings(file, { ids: ['g0', evil, 'g2'], vectors: Float32Array.from([1, 0, 0.9, 0.1, 0, 1]), dim: 2 });
    const r = galmorph(['similar', '--embeddings', file, '--query', 'g0', '--k', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!/[\x1b\x07\u202e]/.test(r.stdout + r.stderr), JSON.stringify(r.stdout));
    assert.match(r.stdout, /g1\\x1b\]0;pwned/);
    const missing = galmorph(['similar', '--embeddings', file, '--query', `${evil}x`]);
    assert.notEqual(missing.status, 0);
    assert.ok(!/[\x1b\x07\u202e]/.test(missing.stderr), 'error messages are escaped too');
  });

  it('defect 12: ranking-only anomaly never writes its labels file, even one with a torn last line', () => {
    const dir = tempDir();
    const n = 30;
    const emb = path.join(dir, 'e.arrow');
    writeEmbeddings(emb, { ids: Array.from({ length: n }, (_, i) => `g${i}`), vectors: Float32Array.from({ length: n * 3 }, (_, i) => Math.cos(i * 1.7)), dim: 3 });
    const labels = path.join(dir, 'labels.jsonl');
    const session = AnomalySession.open(emb, labels, { components: 2, onWarning: () => undefined });
    for (const [id, score] of [['g1', 0], ['g2', 5], ['g3', 1]] as const) session.score(id, score);
    fs.appendFileSync(labels, '{"id":"g4","sco');
    const before = fs.readFileSync(labels);
    const r = galmorph(['anomaly', '--embeddings', emb, '--labels', labels, '--components', '2', '--top', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /ignoring an incomplete last line/);
    assert.match(r.stdout, /ranking of 30 galaxies from 3 scores/);
    assert.ok(fs.readFileSync(labels).equals(before), 'the labels file is byte for byte as it was');
    const readOnly = AnomalySession.open(emb, labels, { components: 2, readOnly: true, onWarning: () => undefined });
    assert.throws(() => readOnly.score('g5', 2), /opened read-only/);
    assert.ok(fs.readFileSync(labels).equals(before));
  });

  it('defect 13: one blank or NaN fraction among a question\'s answers is an error, not renormalised away', () => {
    const gz2 = schemaByName('gz2');
    const cat = gz2Sample(3);
    const col = 't01_smooth_or_features_a02_features_or_disk_weighted_fraction';
    for (const value of ['NaN', '']) {
      cat.rows[2]![col] = value;
      assert.throws(() => voteCounts(cat, gz2, GZ2_VOTES), new RegExp(`row 4 \\(id ${cat.rows[2]!.asset_id}\\): column '${col}' is blank or NaN while other answers of question 't01_smooth_or_features' have fractions: NaN votes are errors`));
    }
    // A question nobody reached (all its fractions blank) still gets zero votes.
    const ok = gz2Sample(3);
    const edgeOn = gz2.questions.find((q) => q.key.startsWith('t02'))!;
    for (const a of edgeOn.answers) ok.rows[0]![`${a.key}_weighted_fraction`] = '';
    const table = voteCounts(ok, gz2, GZ2_VOTES);
    const idx = gz2.answerIndex();
    assert.deepEqual(edgeOn.answers.map((a) => table.counts[idx.get(a.key)!]), edgeOn.answers.map(() => 0));
  });
});
