import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { augment, cropResize, flip, randomCropBox, rotate, seededRng } from '../src/data/augment';
import { readFits, writeFits } from '../src/data/fits';
import { decodeFitsRgb, ImageLoader, Pixels, readImage } from '../src/data/images';
import { luptonRgb } from '../src/data/stretch';
import { gz2Sample, tempDir } from './support/fixtures';

/** One 80-character header card, written by hand as the FITS standard lays it out. */
const card = (s: string) => s.padEnd(80, ' ');
/** Header cards plus END, padded with blanks to a 2880-byte block. */
function headerBlock(cards: string[]): Buffer {
  const text = [...cards, 'END'].map(card).join('');
  return Buffer.from(text.padEnd(Math.ceil(text.length / 2880) * 2880, ' '), 'latin1');
}
function dataBlock(bytes: Buffer): Buffer {
  return Buffer.concat([bytes, Buffer.alloc((2880 - (bytes.length % 2880)) % 2880)]);
}

describe('FITS', () => {
  it('reads a file written byte by byte: primary int16 with BZERO, an IMAGE extension cube of float32, header values and comments', () => {
    // Primary: 3 x 2 unsigned 16-bit image stored as int16 with BZERO = 32768 (the standard's convention).
    const phys = [0, 1, 65535, 32768, 100, 40000];
    const prim = Buffer.alloc(12);
    phys.forEach((v, i) => prim.writeInt16BE(v - 32768, i * 2));
    // Extension: a 2 x 2 x 3 float32 cube (three bands).
    const cube = Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);
    const ext = Buffer.alloc(48);
    cube.forEach((v, i) => ext.writeFloatBE(v, i * 4));
    const file = path.join(tempDir(), 'hand.fits');
    fs.writeFileSync(file, Buffer.concat([
      headerBlock([
        'SIMPLE  =                    T / conforms to FITS standard',
        'BITPIX  =                   16 / array data type',
        'NAXIS   =                    2',
        'NAXIS1  =                    3',
        'NAXIS2  =                    2',
        'EXTEND  =                    T',
        'BZERO   =                32768 / offset data range to that of unsigned short',
        'BSCALE  =                    1',
        "OBJECT  = 'NGC 1300'           / a barred spiral",
        "OBSERVER= 'O''Brien'",
        'EXPTIME =            9.050D+01 / seconds, D exponent',
        'COMMENT   written by hand for the galmorph test',
      ]),
      dataBlock(prim),
      headerBlock([
        "XTENSION= 'IMAGE   '           / image extension",
        'BITPIX  =                  -32',
        'NAXIS   =                    3',
        'NAXIS1  =                    2',
        'NAXIS2  =                    2',
        'NAXIS3  =                    3',
        'PCOUNT  =                    0',
        'GCOUNT  =                    1',
        "EXTNAME = 'GRZ     '",
      ]),
      dataBlock(ext),
    ]));
    const [p, x] = readFits(file);
    assert.deepEqual([p!.type, p!.bitpix, p!.shape], ['PRIMARY', 16, [3, 2]]);
    assert.deepEqual([...p!.data!], phys);
    assert.equal(p!.header.get('OBJECT'), 'NGC 1300');
    assert.equal(p!.header.cards.find((c) => c.key === 'OBJECT')!.comment, 'a barred spiral');
    assert.equal(p!.header.get('OBSERVER'), "O'Brien");
    assert.equal(p!.header.get('EXPTIME'), 90.5);
    assert.equal(p!.header.get('EXTEND'), true);
    assert.equal(p!.header.cards.find((c) => c.key === 'COMMENT')!.comment, '  written by hand for the galmorph test');
    assert.deepEqual([x!.type, x!.bitpix, x!.shape, x!.header.get('EXTNAME')], ['IMAGE', -32, [2, 2, 3], 'GRZ']);
    assert.deepEqual([...x!.data!], cube);
  });

  it('writes BITPIX 8/16/32/-32/-64 that read back exactly, in 2880-byte blocks with standard cards', () => {
    const values = [0, 1, 2, 200, 255, 17];
    for (const bitpix of [8, 16, 32, -32, -64] as const) {
      const buf = writeFits([{ data: values, shape: [3, 2], bitpix, cards: [{ key: 'BUNIT', value: 'nanomaggy', comment: 'flux unit' }] }]);
      assert.equal(buf.length % 2880, 0);
      assert.equal(buf.subarray(0, 80).toString('latin1'), card('SIMPLE  =                    T / conforms to the FITS standard'));
      assert.equal(buf.subarray(80, 160).toString('latin1'), card(`BITPIX  = ${String(bitpix).padStart(20)}`));
      const file = path.join(tempDir(), `w${bitpix}.fits`);
      fs.writeFileSync(file, buf);
      const [hdu] = readFits(file);
      assert.deepEqual([...hdu!.data!], values, `BITPIX ${bitpix}`);
      assert.equal(hdu!.header.get('BUNIT'), 'nanomaggy');
    }
    // Scaled integers and gzip: physical 0.25 steps stored as int16 with BSCALE 0.25, BZERO 10.
    const file = path.join(tempDir(), 'scaled.fits.gz');
    fs.writeFileSync(file, zlib.gzipSync(writeFits([{ data: [10, 10.25, 9.5, 42], shape: [2, 2], bitpix: 16, bscale: 0.25, bzero: 10 }])));
    assert.deepEqual([...readFits(file)[0]!.data!], [10, 10.25, 9.5, 42]);
  });

  it('a truncated or non-FITS file is an error naming it', () => {
    const file = path.join(tempDir(), 'cut.fits');
    fs.writeFileSync(file, writeFits([{ data: new Array(4000).fill(1), shape: [80, 50], bitpix: -32 }]).subarray(0, 2880 + 100));
    assert.throws(() => readFits(file), new RegExp(`cannot read FITS file ${file.replace(/[/.]/g, '\\$&')}, HDU 0: the data needs 16000 bytes but the file ends 100 bytes after the header`));
    fs.writeFileSync(file, 'hello');
    assert.throws(() => readFits(file), /has no END card/);
  });

  it('Lupton asinh stretch matches the formula, keeps colours, and saturates without changing hue', () => {
    const Q = 8;
    const stretch = 0.5;
    const slope = (255 * 0.1) / Math.asinh(0.1 * Q);
    const rgb = luptonRgb([0.1, 0, 50, -1], [0.05, 0, 25, -1], [0.03, 0, 10, -1], { Q, stretch });
    const I = (0.1 + 0.05 + 0.03) / 3;
    const fac = (Math.asinh((I * Q) / stretch) * slope) / I;
    assert.deepEqual([...rgb.subarray(0, 3)], [0.1, 0.05, 0.03].map((v) => Math.floor(v * fac)));
    assert.deepEqual([...rgb.subarray(3, 6)], [0, 0, 0], 'zero flux is black');
    assert.equal(rgb[6], 255, 'the brightest band of a saturated pixel is 255');
    assert.ok(Math.abs(rgb[7]! / 255 - 0.5) < 0.01 && Math.abs(rgb[8]! / 255 - 0.2) < 0.01, 'and the band ratios are kept');
    assert.deepEqual([...rgb.subarray(9, 12)], [0, 0, 0], 'negative flux is black');
  });

  it('a three-band FITS cube becomes an RGB image (top row first), resizable and greyscale', async () => {
    // 4 x 2 pixels, bands g, r, z; FITS row 0 (bottom) is bright in z only.
    const w = 4;
    const h = 2;
    const g = [0, 0, 0, 0, 1, 1, 1, 1];
    const r = [0, 0, 0, 0, 1, 1, 1, 1];
    const z = [2, 2, 2, 2, 1, 1, 1, 1];
    const file = path.join(tempDir(), 'grz.fits');
    fs.writeFileSync(file, writeFits([{ data: [], shape: [], bitpix: 8 }, { data: [...g, ...r, ...z], shape: [w, h, 3], bitpix: -32 }]));
    const rgb = decodeFitsRgb(file, { bands: [2, 1, 0], stretch: 0.5 });
    assert.deepEqual([rgb.width, rgb.height, rgb.channels], [4, 2, 3]);
    const expectTop = luptonRgb([1], [1], [1], { stretch: 0.5 });
    const expectBottom = luptonRgb([2], [0], [0], { stretch: 0.5 });
    assert.deepEqual([...rgb.data.subarray(0, 3)], [...expectTop], 'top row = FITS row 1');
    assert.deepEqual([...rgb.data.subarray(12, 15)], [...expectBottom], 'bottom row = FITS row 0, red (z)');
    const grey = await readImage(file, { fits: { bands: [2, 1, 0], stretch: 0.5 }, greyscale: true, size: 8 });
    assert.deepEqual([grey.width, grey.height, grey.channels, grey.data.length], [8, 8, 1, 64]);
    await assert.rejects(readImage(file, { fits: { bands: [5, 1, 0] } }), /FITS file .*grz\.fits has 3 band\(s\); band 5 was asked for/);
  });

  it('separate single-band IMAGE extensions also make the bands', () => {
    const file = path.join(tempDir(), 'bands.fits');
    const plane = (v: number) => ({ data: [v, v, v, v], shape: [2, 2], bitpix: -32 as const });
    fs.writeFileSync(file, writeFits([{ data: [], shape: [], bitpix: 8 }, plane(1), plane(2), plane(3)]));
    assert.deepEqual([...decodeFitsRgb(file).data.subarray(0, 3)], [...luptonRgb([1], [2], [3])]);
  });
});

const px = (w: number, h: number, f: (x: number, y: number) => number): Pixels => {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
  return { data, width: w, height: h, channels: 1 };
};

describe('images and augmentations', () => {
  it('decodes real galaxies with crop, resize and greyscale (the unweighted channel mean)', async () => {
    const file = gz2Sample(1).imagePath(gz2Sample(1).rows[0]!);
    const rgb = await readImage(file, { crop: { left: 100, top: 100, width: 224, height: 224 } });
    const grey = await readImage(file, { crop: { left: 100, top: 100, width: 224, height: 224 }, greyscale: true });
    assert.deepEqual([rgb.width, rgb.height, grey.channels], [224, 224, 1]);
    for (const i of [0, 5000, 224 * 112 + 112]) {
      assert.equal(grey.data[i], Math.round((rgb.data[3 * i]! + rgb.data[3 * i + 1]! + rgb.data[3 * i + 2]!) / 3));
    }
    await assert.rejects(readImage(file, { crop: { left: 400, top: 0, width: 100, height: 10 } }), new RegExp(`cannot read image ${file.replace(/[/.]/g, '\\$&')}`));
  });

  it('rotation by 90 degrees and flips move pixels exactly; rotation keeps the centre', () => {
    const p = px(5, 5, (x, y) => 10 * y + x);
    const r90 = rotate(p, 90);
    // Anticlockwise: the top-right corner goes to the top-left.
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) assert.equal(r90.data[y * 5 + x], p.data[x * 5 + (4 - y)]);
    const h = flip(p, 'horizontal');
    const v = flip(p, 'vertical');
    assert.equal(h.data[0], 4);
    assert.equal(v.data[0], 40);
    assert.equal(rotate(p, 37).data[12], p.data[12]);
    assert.deepEqual(rotate(p, 360).data, p.data);
  });

  it('random resized crops keep 70-80% of the area with aspect ratio 0.9-1.1, and fit inside', () => {
    const rng = seededRng(1);
    for (let i = 0; i < 500; i++) {
      const b = randomCropBox(224, 224, rng);
      const area = (b.width * b.height) / (224 * 224);
      assert.ok(area > 0.69 && area < 0.81, `area ${area}`);
      assert.ok(b.width / b.height > 0.89 && b.width / b.height < 1.11);
      assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= 224 && b.top + b.height <= 224);
    }
    const flat = px(10, 10, () => 77);
    assert.ok(cropResize(flat, { left: 2, top: 3, width: 6, height: 5 }, 4, 4).data.every((v) => v === 77));
  });

  it('augmentations always return the requested size, also when the crop box happens to be that size', () => {
    // 74 px decoded for 64 px training: a random crop of exactly 64x64 at (0, 0) once came back uncropped
    const p = { data: new Uint8Array(74 * 74 * 3).map((_, i) => i % 251), width: 74, height: 74, channels: 3 as const };
    // draws for: area fraction 0.748 (4096 px), aspect 1, left 0, top 0
    const draws = [0.48, 0.5252, 0, 0];
    const out = augment(p, () => draws.shift()!, { size: 64, rotate: false, flip: false });
    assert.deepEqual([out.width, out.height], [64, 64]);
    const random = augment(p, seededRng(3), { size: 64 });
    assert.deepEqual([random.width, random.height], [64, 64]);
  });

  it('augmentations repeat exactly for a seed and differ between seeds', async () => {
    const cat = gz2Sample(1);
    const im = await readImage(cat.imagePath(cat.rows[0]!), { size: 64 });
    const a = augment(im, seededRng(42));
    const b = augment(im, seededRng(42));
    const c = augment(im, seededRng(43));
    assert.deepEqual([a.width, a.height, a.channels], [64, 64, 3]);
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, c.data);
    assert.deepEqual(augment(im, seededRng(1), { size: 32 }).width, 32);
  });

  it('the decode cache decodes each file once across epochs; unreadable images are skipped and reported, or name the file', async () => {
    const cat = gz2Sample(4);
    const files = cat.rows.map((r) => cat.imagePath(r));
    const bad = path.join(tempDir(), 'corrupt.png');
    fs.writeFileSync(bad, 'not a png');
    const loader = new ImageLoader({ size: 32, skipUnreadable: true });
    const first = await loader.load([...files, bad]);
    const second = await loader.load([...files, bad]);
    assert.equal(loader.decodes, 5, 'epoch 2 decodes nothing');
    assert.equal(first.images.length, 4);
    assert.equal(second.images[0], first.images[0], 'the same decoded pixels');
    assert.deepEqual(first.skipped.map((s) => s.file), [bad]);
    assert.match(first.skipped[0]!.error, /cannot read image .*corrupt\.png/);
    await assert.rejects(new ImageLoader().load([files[0]!, bad]), new RegExp(`cannot read image ${bad.replace(/[/.]/g, '\\$&')}`));
  });
});
