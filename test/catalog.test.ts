import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Table as ParquetTable, writeParquet } from 'parquet-wasm/node';
import { readCatalog } from '../src/data/catalog';
import { readRgb } from '../src/data/images';
import { resolveDataPath } from '../src/paths';
import { tempDir } from './support/fixtures';

/** A catalogue written by the test, pointing at real shared images. */
function writeCatalog(lines: string[]): string {
  const dir = tempDir();
  const img = path.dirname(resolveDataPath('gz2-hart16-1000/catalog.csv'));
  const file = path.join(dir, 'cat.csv');
  fs.writeFileSync(file, lines.map((l) => l.replace('$IMG', path.join(img, 'images'))).join('\n') + '\n');
  return file;
}

describe('catalogues', () => {
  it('reads the real GZ2 catalogue with 19-digit SDSS ids intact', () => {
    const cat = readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'objid' });
    assert.equal(cat.length, 1000);
    assert.equal(cat.ids()[0], '587739505552785605', 'no float rounding of the id');
    const smooth = cat.numbers('t01_smooth_or_features_a01_smooth_weighted_fraction');
    assert.ok(Math.abs(smooth[0]! - 0.73) < 1e-6);
    assert.ok(fs.existsSync(cat.imagePath(cat.rows[0]!)));
  });

  it('a missing column is named, with the columns present listed', () => {
    const file = writeCatalog(['galaxy,file', 'a,$IMG/130549.jpg']);
    assert.throws(() => readCatalog(file), new RegExp(`${file.replace(/[/.]/g, '\\$&')} has no column 'id'\\. Columns present: galaxy, file`));
    assert.equal(readCatalog(file, { idCol: 'galaxy' }).length, 1);
  });

  it('duplicate ids are refused with their rows', () => {
    const file = writeCatalog(['id,file', 'a,$IMG/130549.jpg', 'b,$IMG/130549.jpg', 'a,$IMG/130549.jpg']);
    assert.throws(() => readCatalog(file), /1 duplicate id\(s\) in column 'id': 'a' \(rows 2 and 4\)/);
  });

  it('missing images are reported: the count and the first ten', () => {
    const rows = Array.from({ length: 12 }, (_, i) => `g${i},missing-${i}.jpg`);
    const file = writeCatalog(['id,file', 'ok,$IMG/130549.jpg', ...rows]);
    assert.throws(() => readCatalog(file), (e: Error) => {
      assert.match(e.message, /12 of 13 image files are missing \(column 'file'\); the first 10:/);
      assert.ok(e.message.includes(path.join(path.dirname(file), 'missing-0.jpg')), 'relative paths resolve against the catalogue folder');
      assert.ok(!e.message.includes('missing-10.jpg'));
      return true;
    });
  });

  it('a non-numeric cell names its row and column', () => {
    const file = writeCatalog(['id,file,smooth', 'a,$IMG/130549.jpg,0.5', 'b,$IMG/130549.jpg,lots']);
    assert.throws(() => readCatalog(file).numbers('smooth'), /row 3 \(id b\): column 'smooth' holds 'lots', not a number/);
  });

  it('images decode to RGB at the requested size, and a corrupt one names its file', async () => {
    const cat = readCatalog(resolveDataPath('gz2-hart16-1000/catalog.csv'), { idCol: 'asset_id' });
    const im = await readRgb(cat.imagePath(cat.rows[0]!), 32);
    assert.deepEqual([im.width, im.height, im.data.length], [32, 32, 32 * 32 * 3]);
    const full = await readRgb(cat.imagePath(cat.rows[0]!));
    assert.deepEqual([full.width, full.height], [424, 424]);
    const bad = path.join(tempDir(), 'corrupt.jpg');
    fs.writeFileSync(bad, Buffer.from('not a jpeg at all'));
    await assert.rejects(readRgb(bad), new RegExp(`cannot read image ${bad.replace(/[/.]/g, '\\$&')}`));
  });

  it('reads Parquet, Arrow IPC and gzipped CSV with the same values, int64 ids exact', () => {
    const dir = tempDir();
    const img = path.join(path.dirname(resolveDataPath('gz2-hart16-1000/catalog.csv')), 'images', '130549.jpg');
    const table = tableFromArrays({
      objid: BigInt64Array.from([8647474690312307154n, 587739505552785605n]),
      file: [img, img],
      smooth: Float64Array.from([0.25, NaN]),
    });
    fs.writeFileSync(path.join(dir, 'cat.arrow'), tableToIPC(table, 'file'));
    fs.writeFileSync(path.join(dir, 'cat.parquet'), writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream'))));
    fs.writeFileSync(path.join(dir, 'cat.csv.gz'), zlib.gzipSync(`objid,file,smooth\n8647474690312307154,${img},0.25\n587739505552785605,${img},\n`));
    for (const name of ['cat.arrow', 'cat.parquet', 'cat.csv.gz']) {
      const cat = readCatalog(path.join(dir, name), { idCol: 'objid' });
      assert.deepEqual(cat.ids(), ['8647474690312307154', '587739505552785605'], name);
      assert.deepEqual([...cat.numbers('smooth')], [0.25, NaN], name);
      assert.equal(cat.imagePath(cat.rows[0]!), img);
      assert.throws(() => readCatalog(path.join(dir, name), { idCol: 'id' }), /has no column 'id'\. Columns present: objid, file, smooth/);
    }
    fs.writeFileSync(path.join(dir, 'bad.parquet'), 'PAR1 not really');
    assert.throws(() => readCatalog(path.join(dir, 'bad.parquet')), /cannot read parquet catalogue .*bad\.parquet/);
    assert.throws(() => readCatalog(path.join(dir, 'cat.xlsx')), /catalogue file not found/);
  });
});
