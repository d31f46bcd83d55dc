/**
 * Fuzzing `galmorph data catalog` and `galmorph predict` with a few hundred generated bad inputs:
 * catalogues cut short, bytes overwritten, NaN / Infinity / huge / non-numeric votes, garbage and
 * empty files; images truncated, overwritten, empty, with huge or negative dimensions (PNG, FITS),
 * NaN and Infinity pixels. Each case must end one of two ways: exit 0 with correct output (every
 * row, finite numbers), or a non-zero exit whose message names the file at fault, with no output
 * (or partial output) left behind. Cases run in-process through the CLI's `main` (the code the
 * launcher runs; its only addition, printing the message and exit 1, is replayed here), and a few
 * through the real launcher to check that the two agree.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import Papa from 'papaparse';
import sharp from 'sharp';
import { initBackend } from '../src/backend/select';
import { main } from '../src/cli/main';
import { Rng, seededRng } from '../src/data/augment';
import { writeFits } from '../src/data/fits';
import { projectRoot } from '../src/paths';
import { gz2Sample, tempDir } from './support/fixtures';

const BIN = path.join(projectRoot(), 'bin', 'galmorph.js');
const VOTE_ARGS = ['--id-col', 'asset_id', '--schema', 'gz2', '--fractions', '{answer}_weighted_fraction', '--total', 'total_classifications'];

interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process, as bin/galmorph.js does: a thrown error is printed and exits 1. */
async function runInProcess(args: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let status = 0;
  try {
    await main(['node', 'galmorph', ...args]);
    status = process.exitCode ? Number(process.exitCode) : 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    stderr += `${msg.startsWith('galmorph') ? msg : `galmorph: ${msg}`}\n`;
    status = 1;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
  return { status, stdout, stderr };
}

function runBin(args: string[]): Outcome {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

function randomBytes(rng: Rng, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => int(rng, 256)));
}

function overwriteBytes(rng: Rng, bytes: Buffer, count: number): Buffer {
  const out = Buffer.from(bytes);
  for (let k = 0; k < count; k++) out[int(rng, out.length)] = int(rng, 256);
  return out;
}

/** A PNG with its IHDR claiming width x height (CRC recomputed, so only the size is wrong). */
function pngClaiming(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width >>> 0, 16);
  out.writeUInt32BE(height >>> 0, 20);
  out.writeUInt32BE(zlib.crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

/** Files in a folder (recursively), relative. */
function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

const BAD_NUMBERS = ['NaN', 'nan', 'Infinity', '-Infinity', '1e999', '-1e999', 'abc', '0x', '1,5', '--3', '1e308', '-0.5', '7'];

describe('fuzz: bad catalogues and images through data catalog and predict', function () {
  this.timeout(900_000);
  before(() => initBackend('wasm'));
  const sample = gz2Sample(4);
  const rows: Record<string, string>[] = sample.rows.map((r) => ({ ...r, file: sample.imagePath(r) }));
  const goodCsv = Papa.unparse(rows, { newline: '\n' });
  const voteCols = sample.columns.filter((c) => c.endsWith('_weighted_fraction') || c === 'total_classifications');

  /** A generated bad catalogue: its bytes and what was done to it. */
  function badCatalogue(rng: Rng, k: number): { bytes: Buffer; how: string } {
    const text = Buffer.from(goodCsv);
    switch (k % 7) {
      case 0: {
        const at = int(rng, text.length);
        return { bytes: text.subarray(0, at), how: `truncated at byte ${at}` };
      }
      case 1: {
        const n = 1 + int(rng, 8);
        return { bytes: overwriteBytes(rng, text, n), how: `${n} bytes overwritten` };
      }
      case 2:
      case 3: {
        const r = rows.map((x) => ({ ...x }));
        const col = pick(rng, voteCols);
        const value = pick(rng, BAD_NUMBERS);
        r[int(rng, r.length)]![col] = value;
        return { bytes: Buffer.from(Papa.unparse(r, { newline: '\n' })), how: `'${value}' in ${col}` };
      }
      case 4: {
        const n = int(rng, 3000);
        return { bytes: randomBytes(rng, n), how: `${n} random bytes` };
      }
      case 5: {
        const kinds = ['', '\n', 'asset_id\n', 'asset_id,file\n1,', '\ufeff', '"unterminated', Buffer.from(goodCsv).toString('utf16le')];
        const s = pick(rng, kinds);
        return { bytes: Buffer.from(s), how: `special ${JSON.stringify(s.slice(0, 20))}` };
      }
      default: {
        const r = rows.map((x) => ({ ...x }));
        const which = int(rng, 3);
        if (which === 0) r[1]!.asset_id = r[0]!.asset_id!;
        else if (which === 1) r[2]!.file = '/nonexistent/galaxy.jpg';
        else r[3]!.asset_id = '';
        return { bytes: Buffer.from(Papa.unparse(r, { newline: '\n' })), how: ['duplicate id', 'missing image', 'empty id'][which]! };
      }
    }
  }

  it('200 generated bad catalogues: data catalog either reports every row with finite vote means, or fails naming the file', async () => {
    const rng = seededRng(15);
    const dir = tempDir();
    const tally = { ok: 0, refused: 0 };
    for (let k = 0; k < 200; k++) {
      const caseDir = path.join(dir, `c${k}`);
      fs.mkdirSync(caseDir);
      const file = path.join(caseDir, 'catalog.csv');
      const { bytes, how } = badCatalogue(rng, k);
      fs.writeFileSync(file, bytes);
      const r = await runInProcess(['data', 'catalog', file, ...VOTE_ARGS]);
      const what = `case ${k} (${how}): ${r.stderr}${r.stdout}`;
      if (r.status === 0) {
        tally.ok++;
        const parsed = Papa.parse<Record<string, string>>(bytes.toString('utf8'), { header: true, skipEmptyLines: true });
        const m = /: (\d+) rows,/.exec(r.stdout);
        assert.ok(m, what);
        assert.equal(Number(m[1]), parsed.data.length, `every row reported: ${what}`);
        assert.doesNotMatch(r.stdout, /NaN|Infinity/, what);
        assert.equal((r.stdout.match(/mean [0-9.e+]+ votes per galaxy/g) ?? []).length, 11, `a finite mean for each of the 11 questions: ${what}`);
      } else {
        tally.refused++;
        assert.ok(r.stderr.includes(file), `the message names the file: ${what}`);
      }
      assert.deepEqual(listFiles(caseDir), ['catalog.csv'], `nothing written: ${what}`);
    }
    assert.ok(tally.refused > 100 && tally.ok > 0, JSON.stringify(tally));
  });

  it('120 generated bad images (and catalogues) through predict: every row predicted in [0, 1], or a failure naming the file and no output left', async () => {
    const rng = seededRng(1015);
    const dir = tempDir();
    const jpeg = fs.readFileSync(rows[0]!.file);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 40, g: 80, b: 120 } } }).png().toBuffer();
    const fitsOf = (data: number[], shape = [8, 8]) => writeFits([{ data, shape, bitpix: -32 }]);
    const smooth = Array.from({ length: 64 }, (_, i) => (i % 9) / 9);
    const fitsHeaderEdit = (key: string, value: string) =>
      Buffer.from(fitsOf(smooth).toString('latin1').replace(new RegExp(`${key.padEnd(8)}=\\s+\\S+`), `${key.padEnd(8)}= ${value.padStart(20)}`), 'latin1');
    const images: ((k: number) => { bytes: Buffer; ext: string; how: string })[] = [
      () => { const at = int(rng, jpeg.length); return { bytes: jpeg.subarray(0, at), ext: 'jpg', how: `JPEG cut at ${at}` }; },
      () => { const n = 1 + int(rng, 40); return { bytes: overwriteBytes(rng, jpeg, n), ext: 'jpg', how: `JPEG, ${n} bytes overwritten` }; },
      () => ({ bytes: Buffer.alloc(0), ext: pick(rng, ['jpg', 'png', 'fits']), how: 'empty' }),
      () => { const n = int(rng, 5000); return { bytes: randomBytes(rng, n), ext: pick(rng, ['jpg', 'png', 'fits', 'fits.gz']), how: `${n} random bytes` }; },
      () => { const w = pick(rng, [0, 1, 70000, 2 ** 31, 2 ** 32 - 1]); return { bytes: pngClaiming(png, w, w), ext: 'png', how: `PNG claiming ${w}x${w}` }; },
      () => { const v = pick(rng, ['-4096', '0', '1000000000', '2.5', '-1']); return { bytes: fitsHeaderEdit(pick(rng, ['NAXIS1', 'NAXIS2']), v), ext: 'fits', how: `FITS axis ${v}` }; },
      () => { const v = pick(rng, ['1000', '-1', '3']); return { bytes: fitsHeaderEdit('NAXIS', v), ext: 'fits', how: `FITS NAXIS ${v}` }; },
      () => { const v = pick(rng, ['7', '0', '-16', '1e9']); return { bytes: fitsHeaderEdit('BITPIX', v), ext: 'fits', how: `FITS BITPIX ${v}` }; },
      () => { const bad = pick(rng, [NaN, Infinity, -Infinity, 3.4e38]); return { bytes: fitsOf(smooth.map((x, i) => (i % 3 === 0 ? bad : x))), ext: 'fits', how: `FITS with ${bad} pixels` }; },
      () => { const f = fitsOf(smooth); const at = int(rng, f.length); return { bytes: f.subarray(0, at), ext: 'fits', how: `FITS cut at ${at}` }; },
    ];
    const tally = { ok: 0, skipped: 0, refused: 0 };
    for (let k = 0; k < 120; k++) {
      const caseDir = path.join(dir, `p${k}`);
      fs.mkdirSync(caseDir);
      const catalogPath = path.join(caseDir, 'catalog.csv');
      const r3 = rows.slice(0, 3).map((x) => ({ ...x }));
      let how: string;
      let inputs: string[];
      if (k % 10 === 9) {
        // a bad catalogue, good images
        const bad = badCatalogue(rng, int(rng, 7));
        fs.writeFileSync(catalogPath, bad.bytes);
        how = `catalogue: ${bad.how}`;
        inputs = ['catalog.csv'];
      } else {
        const img = images[k % images.length]!(k);
        const file = path.join(caseDir, `bad.${img.ext}`);
        fs.writeFileSync(file, img.bytes);
        r3[1]!.file = file;
        fs.writeFileSync(catalogPath, Papa.unparse(r3, { newline: '\n' }));
        how = `image: ${img.how}`;
        inputs = ['bad.' + img.ext, 'catalog.csv'];
      }
      const skip = k % 2 === 1;
      const out = path.join(caseDir, 'preds.csv');
      const r = await runInProcess(['predict', '--catalog', catalogPath, '--id-col', 'asset_id', '--samples', '1', '--batch', '2', ...(skip ? ['--skip-unreadable'] : []), '--out', out]);
      const what = `case ${k} (${how}${skip ? ', --skip-unreadable' : ''}): ${r.stderr}`;
      const files = listFiles(caseDir);
      if (r.status === 0) {
        const preds = Papa.parse<Record<string, string>>(fs.readFileSync(out, 'utf8'), { header: true, skipEmptyLines: true });
        const skippedFile = path.join(caseDir, 'preds.skipped.csv');
        const skippedList = fs.existsSync(skippedFile) ? Papa.parse<Record<string, string>>(fs.readFileSync(skippedFile, 'utf8'), { header: true, skipEmptyLines: true }).data : [];
        const catalogIds = Papa.parse<Record<string, string>>(fs.readFileSync(catalogPath, 'utf8'), { header: true, skipEmptyLines: true }).data.map((x) => x.asset_id);
        const skippedIds = skippedList.map((s) => /\(id ([^)]*)\)$/.exec(s.where!)?.[1]);
        assert.deepEqual(preds.data.map((p) => p.id), catalogIds.filter((id) => !skippedIds.includes(id)), `every readable row, in order: ${what}`);
        if (skippedList.length > 0) {
          tally.skipped++;
          assert.ok(skip, what);
          assert.ok(skippedList.every((s) => s.file && r.stderr.includes(s.where!)), `each skip is reported: ${what}`);
        } else tally.ok++;
        for (const p of preds.data) {
          for (const [c, v] of Object.entries(p)) {
            if (c === 'id') continue;
            const x = Number(v);
            assert.ok(Number.isFinite(x) && x >= 0 && x <= 1, `${c} = ${v}: ${what}`);
          }
        }
        assert.deepEqual(files, [...inputs, 'preds.csv', ...(skippedList.length ? ['preds.skipped.csv'] : [])].sort(), what);
      } else {
        tally.refused++;
        const named = r.stderr.includes(catalogPath) || inputs.some((f) => r.stderr.includes(path.join(caseDir, f)));
        assert.ok(named, `the message names the file: ${what}`);
        assert.deepEqual(files, [...inputs].sort(), `no output or partial output left: ${what}`);
      }
    }
    assert.ok(tally.refused > 10 && tally.skipped > 10, JSON.stringify(tally));
  });

  it('the launcher agrees with the in-process runs: exit codes, messages, nothing written', async () => {
    const dir = tempDir();
    const cases: { args: string[]; file: string }[] = [];
    const infinite = Papa.unparse(rows.map((r, i) => (i === 2 ? { ...r, total_classifications: 'Infinity' } : r)), { newline: '\n' });
    for (const [k, text] of ['', 'asset_id,file\n', infinite].entries()) {
      const file = path.join(dir, `cat${k}.csv`);
      fs.writeFileSync(file, text);
      cases.push({ args: ['data', 'catalog', file, ...VOTE_ARGS], file });
    }
    const badImage = path.join(dir, 'cut.jpg');
    fs.writeFileSync(badImage, fs.readFileSync(rows[0]!.file).subarray(0, 100));
    const catalogPath = path.join(dir, 'predict.csv');
    fs.writeFileSync(catalogPath, Papa.unparse([rows[0]!, { ...rows[1]!, file: badImage }], { newline: '\n' }));
    cases.push({ args: ['predict', '--catalog', catalogPath, '--id-col', 'asset_id', '--samples', '1', '--out', path.join(dir, 'preds.csv')], file: badImage });
    for (const c of cases) {
      const a = runBin(c.args);
      const b = await runInProcess(c.args);
      assert.equal(a.status, b.status, `${c.args.join(' ')}: ${a.stderr}`);
      assert.notEqual(a.status, 0);
      const last = (s: string) => s.trim().split('\n').at(-1);
      assert.equal(last(a.stderr), last(b.stderr));
      assert.ok(a.stderr.includes(c.file), a.stderr);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'preds.csv')));
  });
});
