/**
 * Galaxy images from disk. sharp decodes JPEG/PNG/WebP/TIFF; FITS cutouts (single- or multi-band)
 * are read by ./fits and mapped to RGB with the Lupton asinh stretch. Every error names the file.
 * `ImageLoader` adds a decode cache (later epochs reuse the decoded, resized pixels; augmentations
 * are applied after it) and can skip unreadable images, reporting them, instead of failing.
 */
import sharp from 'sharp';
import { firstImage, readFits, FitsHdu } from './fits';
import { mapLimit } from './hash';
import { luptonRgb, LuptonOptions } from './stretch';

export interface RgbImage {
  /** Interleaved RGB bytes, row-major, `height * width * 3` long. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decoded pixels: interleaved, row-major, top row first; 3 channels (RGB) or 1 (grey). */
export interface Pixels extends RgbImage {
  channels: 1 | 3;
}

export interface FitsRgbOptions extends LuptonOptions {
  /**
   * Planes (0-based: cube planes, or image HDUs in file order) shown as R, G, B. Default [0, 1, 2],
   * or [0, 0, 0] for a single band. For Legacy Survey g,r,z cutouts pass [2, 1, 0].
   */
  bands?: [number, number, number];
  /** Multiplies each of R, G, B before the stretch (per-band flux scales). */
  scales?: [number, number, number];
}

export interface ReadImageOptions {
  /** Crop, in pixels of the decoded image, before resizing. */
  crop?: { left: number; top: number; width: number; height: number };
  /** Resize to size x size (Lanczos). */
  size?: number;
  /** One channel, the unweighted mean of R, G, B (as Zoobot's GrayscaleUnweighted). */
  greyscale?: boolean;
  /** How FITS files become RGB. */
  fits?: FitsRgbOptions;
}

function wrap(file: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return new Error(msg.startsWith('galmorph:') ? msg : `galmorph: cannot read image ${file}: ${msg}`);
}

/** True for `.fits`, `.fit`, `.fts` (optionally `.gz`). */
export function isFitsFile(file: string): boolean {
  return /\.(fits|fit|fts)(\.gz)?$/i.test(file);
}

/** The 2-D planes of a FITS file: the planes of the first image cube, or every 2-D image HDU of the same size. */
function fitsPlanes(hdus: FitsHdu[], file: string): { width: number; height: number; planes: Float64Array[] } {
  const first = firstImage(hdus, file);
  const [width, height] = first.shape as [number, number];
  if (first.shape.length < 2) throw new Error(`galmorph: FITS file ${file}: image is ${first.shape.length}-dimensional, not an image`);
  const n = width * height;
  if (first.shape.length > 2) {
    const depth = first.shape.slice(2).reduce((a, b) => a * b, 1);
    return { width, height, planes: Array.from({ length: depth }, (_, k) => first.data!.subarray(k * n, (k + 1) * n)) };
  }
  const planes = hdus.filter((h) => h.data !== null && h.shape.length === 2 && h.shape[0] === width && h.shape[1] === height).map((h) => h.data!);
  return { width, height, planes };
}

/** A FITS cutout as RGB via the Lupton stretch, flipped so the top row comes first (FITS row 0 is the bottom). */
export function decodeFitsRgb(file: string, options: FitsRgbOptions = {}): Pixels {
  const { width, height, planes } = fitsPlanes(readFits(file), file);
  const bands = options.bands ?? (planes.length === 1 ? [0, 0, 0] : [0, 1, 2]);
  for (const b of bands) {
    if (b < 0 || b >= planes.length) throw new Error(`galmorph: FITS file ${file} has ${planes.length} band(s); band ${b} was asked for (fits.bands)`);
  }
  const scales = options.scales ?? [1, 1, 1];
  const flipped = bands.map((b, k) => {
    const p = planes[b]!;
    const out = new Float64Array(p.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[y * width + x] = p[(height - 1 - y) * width + x]! * scales[k]!;
    }
    return out;
  });
  return { data: luptonRgb(flipped[0]!, flipped[1]!, flipped[2]!, options), width, height, channels: 3 };
}

/** Unweighted mean of the three channels, rounded. */
function toGrey(p: Pixels): Pixels {
  const n = p.width * p.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((p.data[3 * i]! + p.data[3 * i + 1]! + p.data[3 * i + 2]!) / 3);
  return { data: out, width: p.width, height: p.height, channels: 1 };
}

/** Decodes an image (JPEG/PNG/WebP/TIFF/FITS) with optional crop, resize and greyscale. */
export async function readImage(file: string, options: ReadImageOptions = {}): Promise<Pixels> {
  try {
    let pipeline: sharp.Sharp;
    if (isFitsFile(file)) {
      const rgb = decodeFitsRgb(file, options.fits);
      pipeline = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } });
    } else {
      pipeline = sharp(file).removeAlpha().toColourspace('srgb');
    }
    if (options.crop) pipeline = pipeline.extract(options.crop);
    if (options.size !== undefined) pipeline = pipeline.resize(options.size, options.size, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    const rgb: Pixels = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
    return options.greyscale ? toGrey(rgb) : rgb;
  } catch (err) {
    throw wrap(file, err);
  }
}

/** Decodes an image to RGB bytes, optionally resized to `size` x `size` (Lanczos). */
export async function readRgb(file: string, size?: number): Promise<RgbImage> {
  return readImage(file, { size });
}

/** A small JPEG of the image as a `data:` URI, for HTML galaxy grids that work offline. */
export async function thumbnailDataUri(file: string, size = 128): Promise<string> {
  try {
    const source = isFitsFile(file) ? await readImage(file) : undefined;
    const input = source ? sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } }) : sharp(file);
    const jpeg = await input.resize(size, size, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch (err) {
    throw wrap(file, err);
  }
}

export interface LoaderOptions extends ReadImageOptions {
  /** Skip images that cannot be read and report them in `skipped`, instead of failing. Default false. */
  skipUnreadable?: boolean;
  /** Decodes at a time. Default 4. */
  concurrency?: number;
}

export interface LoadResult {
  images: Pixels[];
  /** The file of each image (skipped files left out). */
  files: string[];
  /** Files that could not be read, with their index in the files asked for. */
  skipped: { index: number; file: string; error: string }[];
}

/**
 * Loads images with a decode cache: each file is decoded (and cropped/resized) once; later calls,
 * e.g. later training epochs, reuse the pixels. Augment the returned pixels, never mutate them.
 */
export class ImageLoader {
  /** Files actually decoded so far (cache misses). */
  decodes = 0;
  private readonly cache = new Map<string, Promise<Pixels>>();

  constructor(readonly options: LoaderOptions = {}) {}

  /** One image, from the cache when already decoded. */
  get(file: string): Promise<Pixels> {
    let p = this.cache.get(file);
    if (!p) {
      this.decodes++;
      p = readImage(file, this.options);
      this.cache.set(file, p);
    }
    return p;
  }

  async load(files: string[], options: Pick<LoaderOptions, 'skipUnreadable'> = {}): Promise<LoadResult> {
    const settled = await mapLimit(files, this.options.concurrency ?? 4, (f) => this.get(f).then((im) => ({ im }), (err: Error) => ({ err })));
    const result: LoadResult = { images: [], files: [], skipped: [] };
    settled.forEach((s, i) => {
      if ('im' in s) {
        result.images.push(s.im);
        result.files.push(files[i]!);
      } else if (options.skipUnreadable ?? this.options.skipUnreadable) {
        result.skipped.push({ index: i, file: files[i]!, error: s.err.message });
      } else {
        throw s.err;
      }
    });
    return result;
  }

  /** Forgets every decoded image. */
  clear(): void {
    this.cache.clear();
  }

  get cached(): number {
    return this.cache.size;
  }
}
