/**
 * A small FITS reader and writer for image cutouts (FITS Standard 4.0): the primary HDU and IMAGE
 * extensions, BITPIX 8/16/32/64/-32/-64, BZERO/BSCALE/BLANK, header cards with their comments.
 * Table extensions are skipped over (their size is computed from the header), not decoded.
 * Pixel values come back physical (BZERO + BSCALE x stored) as Float64Array, in FITS order:
 * NAXIS1 (x) varies fastest and row 0 is the bottom of the image.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

const BLOCK = 2880;
const CARD = 80;

export type FitsValue = string | number | boolean | null;

export interface FitsCard {
  key: string;
  value: FitsValue;
  comment?: string;
}

/** A header: its cards in order, with lookup by keyword. */
export class FitsHeader {
  constructor(readonly cards: FitsCard[]) {}

  has(key: string): boolean {
    return this.cards.some((c) => c.key === key);
  }

  get(key: string): FitsValue | undefined {
    return this.cards.find((c) => c.key === key)?.value;
  }

  /** A numeric keyword; the error names the keyword and what was found. */
  number(key: string, fallback?: number): number {
    const v = this.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number') throw new Error(`keyword ${key} is ${v === undefined ? 'missing' : `'${String(v)}', not a number`}`);
    return v;
  }
}

export interface FitsHdu {
  header: FitsHeader;
  /** 'PRIMARY', or the XTENSION value ('IMAGE', 'BINTABLE', ...). */
  type: string;
  bitpix: number;
  /** [NAXIS1, NAXIS2, ...]: width, height, planes. Empty when the HDU has no data. */
  shape: number[];
  /** Physical pixel values (BLANK integers as NaN); null for empty or table HDUs. */
  data: Float64Array | null;
}

/** Parses one 80-character card. */
function parseCard(card: string): FitsCard | null {
  const key = card.slice(0, 8).trimEnd();
  if (key === '' || key === 'COMMENT' || key === 'HISTORY' || card.slice(8, 10) !== '= ') {
    return key === '' ? null : { key, value: null, comment: card.slice(8).trimEnd() };
  }
  const rest = card.slice(10);
  if (rest.trimStart().startsWith("'")) {
    // Strings: quotes doubled inside, trailing blanks not significant.
    const m = /^\s*'((?:[^']|'')*)'\s*(?:\/\s?(.*))?$/.exec(rest);
    if (!m) throw new Error(`unterminated string in card '${card.trimEnd()}'`);
    return { key, value: m[1]!.replace(/''/g, "'").trimEnd(), comment: m[2]?.trimEnd() };
  }
  const slash = rest.indexOf('/');
  const raw = (slash >= 0 ? rest.slice(0, slash) : rest).trim();
  const comment = slash >= 0 ? rest.slice(slash + 1).trim() : undefined;
  let value: FitsValue;
  if (raw === 'T' || raw === 'F') value = raw === 'T';
  else if (raw === '') value = null;
  else {
    value = Number(raw.replace(/D/g, 'E'));
    if (Number.isNaN(value)) throw new Error(`cannot parse the value of card '${card.trimEnd()}'`);
  }
  return { key, value, comment };
}

function padTo(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** Decodes a FITS file's bytes into its HDUs. */
export function parseFits(bytes: Uint8Array, name = 'FITS data'): FitsHdu[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdus: FitsHdu[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const cards: FitsCard[] = [];
    let ended = false;
    for (; pos + CARD <= bytes.length && !ended; pos += CARD) {
      const text = Buffer.from(bytes.subarray(pos, pos + CARD)).toString('latin1');
      if (text.startsWith('END') && text.slice(3).trim() === '') ended = true;
      else {
        const c = parseCard(text);
        if (c) cards.push(c);
      }
    }
    if (!ended) throw new Error(`${name}: header of HDU ${hdus.length} (at byte ${start}) has no END card`);
    pos = start + padTo(pos - start);
    const header = new FitsHeader(cards);
    const first = cards[0]?.key;
    if (hdus.length === 0 && (first !== 'SIMPLE' || header.get('SIMPLE') !== true)) throw new Error(`${name}: not a FITS file (first card is not SIMPLE = T)`);
    if (hdus.length > 0 && first !== 'XTENSION') throw new Error(`${name}: HDU ${hdus.length} does not start with XTENSION`);
    const hdu = readData(header, view, pos, `${name}, HDU ${hdus.length}`);
    pos += padTo(hdu.bytes);
    hdus.push(hdu.hdu);
    // Some writers pad the file with zero blocks; stop at trailing padding.
    if (pos < bytes.length && bytes[pos] === 0) break;
  }
  return hdus;
}

function readData(header: FitsHeader, view: DataView, pos: number, where: string): { hdu: FitsHdu; bytes: number } {
  const num = (key: string, fallback?: number) => {
    try {
      return header.number(key, fallback);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  };
  // Axis lengths and counts are whole numbers >= 0 (NAXIS at most 999): a negative or fractional
  // one would become a bad typed-array length.
  const whole = (key: string, fallback?: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`${where}: ${key} = ${v} is not a whole number from 0 to ${max}`);
    return v;
  };
  const bitpix = num('BITPIX');
  const naxis = whole('NAXIS', undefined, 999);
  const shape = Array.from({ length: naxis }, (_, i) => whole(`NAXIS${i + 1}`));
  const type = header.has('XTENSION') ? String(header.get('XTENSION')).trim() : 'PRIMARY';
  const count = naxis === 0 ? 0 : shape.reduce((a, b) => a * b, 1);
  const bytesPer = Math.abs(bitpix) / 8;
  const bytes = bytesPer * whole('GCOUNT', 1) * (whole('PCOUNT', 0) + count);
  if (![8, 16, 32, 64, -32, -64].includes(bitpix)) throw new Error(`${where}: BITPIX ${bitpix} is not allowed by the FITS standard`);
  if (pos + bytes > view.byteLength) throw new Error(`${where}: the data needs ${bytes} bytes but the file ends ${view.byteLength - pos} bytes after the header (truncated?)`);
  if ((type !== 'PRIMARY' && type !== 'IMAGE') || count === 0) return { hdu: { header, type, bitpix, shape, data: null }, bytes };
  const bzero = num('BZERO', 0);
  const bscale = num('BSCALE', 1);
  const blank = header.has('BLANK') && bitpix > 0 ? num('BLANK') : undefined;
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = pos + i * bytesPer;
    let raw: number;
    switch (bitpix) {
      case 8: raw = view.getUint8(at); break;
      case 16: raw = view.getInt16(at); break;
      case 32: raw = view.getInt32(at); break;
      case 64: raw = Number(view.getBigInt64(at)); break;
      case -32: raw = view.getFloat32(at); break;
      default: raw = view.getFloat64(at);
    }
    data[i] = raw === blank ? NaN : bzero + bscale * raw;
  }
  return { hdu: { header, type, bitpix, shape, data }, bytes };
}

/** Reads a FITS file (`.gz` is gunzipped); errors name the file. */
export function readFits(file: string): FitsHdu[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
  } catch (err) {
    throw new Error(`galmorph: cannot read FITS file ${file}: ${(err as Error).message}`);
  }
  try {
    return parseFits(bytes, file);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(`galmorph: cannot read FITS file ${msg.startsWith(file) ? msg : `${file}: ${msg}`}`);
  }
}

/** The first HDU holding image data; the error lists what the file has. */
export function firstImage(hdus: FitsHdu[], file: string): FitsHdu {
  const hdu = hdus.find((h) => h.data !== null);
  if (!hdu) throw new Error(`galmorph: FITS file ${file} has no image data (HDUs: ${hdus.map((h) => `${h.type} ${h.shape.join('x') || 'empty'}`).join(', ')})`);
  return hdu;
}

export interface FitsImageToWrite {
  /** Physical values, NAXIS1 fastest. */
  data: ArrayLike<number>;
  /** [NAXIS1, NAXIS2, ...]. */
  shape: number[];
  bitpix: 8 | 16 | 32 | -32 | -64;
  /** Stored = round((physical - bzero) / bscale) for integer BITPIX. */
  bzero?: number;
  bscale?: number;
  /** Extra cards, in order (keys up to 8 characters). */
  cards?: FitsCard[];
}

function formatValue(v: FitsValue): string {
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20);
  if (typeof v === 'number') {
    const s = Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v) : v.toExponential(12).replace('e', 'E');
    return s.padStart(20);
  }
  if (v === null) return ''.padStart(20);
  return `'${v.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
}

function card(c: FitsCard): string {
  const text = c.value === null && c.comment !== undefined && (c.key === 'COMMENT' || c.key === 'HISTORY')
    ? `${c.key.padEnd(8)}${c.comment}`
    : `${c.key.padEnd(8)}= ${formatValue(c.value)}${c.comment ? ` / ${c.comment}` : ''}`;
  if (text.length > CARD) throw new Error(`FITS card for ${c.key} is longer than 80 characters`);
  return text.padEnd(CARD);
}

/** Encodes images as a FITS file: the first as the primary HDU, the rest as IMAGE extensions. */
export function writeFits(images: FitsImageToWrite[]): Buffer {
  const parts: Buffer[] = [];
  images.forEach((im, index) => {
    // NAXIS = 0 (an empty primary HDU before extensions) has no data.
    const count = im.shape.length === 0 ? 0 : im.shape.reduce((a, b) => a * b, 1);
    if (count !== im.data.length) throw new Error(`FITS image ${index}: shape ${im.shape.join('x')} needs ${count} values, got ${im.data.length}`);
    const cards: FitsCard[] = [
      index === 0 ? { key: 'SIMPLE', value: true, comment: 'conforms to the FITS standard' } : { key: 'XTENSION', value: 'IMAGE', comment: 'image extension' },
      { key: 'BITPIX', value: im.bitpix },
      { key: 'NAXIS', value: im.shape.length },
      ...im.shape.map((n, i) => ({ key: `NAXIS${i + 1}`, value: n })),
      ...(index === 0 ? (images.length > 1 ? [{ key: 'EXTEND', value: true }] : []) : [{ key: 'PCOUNT', value: 0 }, { key: 'GCOUNT', value: 1 }]),
      ...(im.bzero !== undefined ? [{ key: 'BZERO', value: im.bzero }] : []),
      ...(im.bscale !== undefined ? [{ key: 'BSCALE', value: im.bscale }] : []),
      ...(im.cards ?? []),
    ];
    const header = cards.map(card).join('') + 'END'.padEnd(CARD);
    parts.push(Buffer.from(header.padEnd(padTo(header.length), ' '), 'latin1'));
    const bytesPer = Math.abs(im.bitpix) / 8;
    const data = Buffer.alloc(padTo(count * bytesPer));
    const bzero = im.bzero ?? 0;
    const bscale = im.bscale ?? 1;
    for (let i = 0; i < count; i++) {
      const v = im.data[i]!;
      const stored = im.bitpix > 0 ? Math.round((v - bzero) / bscale) : v;
      const at = i * bytesPer;
      switch (im.bitpix) {
        case 8: data.writeUInt8(stored, at); break;
        case 16: data.writeInt16BE(stored, at); break;
        case 32: data.writeInt32BE(stored, at); break;
        case -32: data.writeFloatBE(stored, at); break;
        default: data.writeDoubleBE(stored, at);
      }
    }
    parts.push(data);
  });
  return Buffer.concat(parts);
}
