/**
 * Training augmentations as Zoobot uses them (Walmsley et al. 2022): a random rotation by 0-360
 * degrees (bilinear, reflecting at the border so no black corners appear), random horizontal and
 * vertical flips, then a random resized crop keeping 70-80% of the area with aspect ratio 0.9-1.1,
 * resized to the output size. All randomness comes from a seedable generator, so runs repeat exactly.
 */
import type { Pixels } from './images';

/** A uniform [0, 1) generator. */
export type Rng = () => number;

/** mulberry32: a small, fast, seedable 32-bit generator (good enough for augmentation, not crypto). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `a` in place (Fisher-Yates, from the end) with a seedable generator; returns it. */
export function shuffle<T>(a: T[], rng: Rng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Reflects an index into [0, n) (d c b | a b c d | c b a), as OpenCV's BORDER_REFLECT_101. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** Bilinear sample of channel c at (x, y) in pixel-centre coordinates, reflecting outside. */
function sample(p: Pixels, x: number, y: number, c: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xi: number, yi: number) => p.data[(reflect(yi, p.height) * p.width + reflect(xi, p.width)) * p.channels + c]!;
  const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
  const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Builds an out.width x out.height image whose pixel (x, y) samples the source at map(x, y). */
function remap(p: Pixels, width: number, height: number, map: (x: number, y: number) => [number, number]): Pixels {
  const data = new Uint8Array(width * height * p.channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = map(x, y);
      for (let c = 0; c < p.channels; c++) data[(y * width + x) * p.channels + c] = Math.round(sample(p, sx, sy, c));
    }
  }
  return { data, width, height, channels: p.channels };
}

/** Rotates anticlockwise (as displayed) by `degrees` about the image centre, same size. */
export function rotate(p: Pixels, degrees: number): Pixels {
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = (p.width - 1) / 2;
  const cy = (p.height - 1) / 2;
  // Inverse mapping: where in the source does each output pixel come from (y points down).
  return remap(p, p.width, p.height, (x, y) => [cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos]);
}

/** Mirror image: 'horizontal' swaps left and right, 'vertical' top and bottom. */
export function flip(p: Pixels, axis: 'horizontal' | 'vertical'): Pixels {
  return remap(p, p.width, p.height, (x, y) => (axis === 'horizontal' ? [p.width - 1 - x, y] : [x, p.height - 1 - y]));
}

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Zoobot's random resized crop: 70-80% of the image's area. */
export const DEFAULT_CROP_SCALE: [number, number] = [0.7, 0.8];

/**
 * A random crop box as torchvision's RandomResizedCrop draws it: area fraction uniform in `scale`,
 * log-aspect-ratio uniform in `ratio`; up to 10 tries to fit, else the largest centred box in range.
 */
export function randomCropBox(width: number, height: number, rng: Rng, scale: [number, number] = DEFAULT_CROP_SCALE, ratio: [number, number] = [0.9, 1.1]): CropBox {
  const area = width * height;
  const [lo, hi] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let i = 0; i < 10; i++) {
    const target = area * (scale[0] + rng() * (scale[1] - scale[0]));
    const aspect = Math.exp(lo + rng() * (hi - lo));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: Math.floor(rng() * (width - w + 1)), top: Math.floor(rng() * (height - h + 1)), width: w, height: h };
    }
  }
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side };
}

/** Crops `box` and resizes it (bilinear) to width x height. */
export function cropResize(p: Pixels, box: CropBox, width: number, height: number): Pixels {
  const sx = box.width / width;
  const sy = box.height / height;
  return remap(p, width, height, (x, y) => [box.left + (x + 0.5) * sx - 0.5, box.top + (y + 0.5) * sy - 0.5]);
}

export const ROTATION_MODES = ['any', 'quarter-turns'] as const;
export type RotationMode = (typeof ROTATION_MODES)[number];

/** A random rotation angle in degrees: uniform, or one of the four quarter turns. */
export function randomAngle(rng: Rng, mode: RotationMode = 'any'): number {
  return mode === 'quarter-turns' ? 90 * Math.min(3, Math.floor(rng() * 4)) : rng() * 360;
}

export interface AugmentOptions {
  /** Output side length. Default: the input width. */
  size?: number;
  /** Default true. */
  rotate?: boolean;
  /**
   * 'any' (default): a uniform angle, Zoobot's; 'quarter-turns': 0, 90, 180 or 270 degrees, which
   * resample nothing and never bring the image's edge into view.
   */
  rotation?: RotationMode;
  /** Random horizontal and vertical flips, each with probability 0.5. Default true. */
  flip?: boolean;
  /** Area fraction range of the random resized crop. Default [0.7, 0.8]; null for no crop. */
  cropScale?: [number, number] | null;
  /** Aspect ratio range of the crop. Default [0.9, 1.1]. */
  cropRatio?: [number, number];
}

/** One random augmentation of `p` (Zoobot's training pipeline by default). Never mutates `p`. */
export function augment(p: Pixels, rng: Rng, options: AugmentOptions = {}): Pixels {
  const size = options.size ?? p.width;
  let out = options.rotate === false ? p : rotate(p, randomAngle(rng, options.rotation));
  if (options.flip !== false) {
    if (rng() < 0.5) out = flip(out, 'horizontal');
    if (rng() < 0.5) out = flip(out, 'vertical');
  }
  const scale = options.cropScale === undefined ? DEFAULT_CROP_SCALE : options.cropScale;
  const box = scale ? randomCropBox(out.width, out.height, rng, scale, options.cropRatio) : { left: 0, top: 0, width: out.width, height: out.height };
  const whole = box.left === 0 && box.top === 0 && box.width === out.width && box.height === out.height;
  return whole && out.width === size && out.height === size ? out : cropResize(out, box, size, size);
}
