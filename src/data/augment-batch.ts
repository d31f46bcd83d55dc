/**
 * Zoobot's augmentations for a whole batch in one backend call. The per-image JavaScript pipeline
 * (src/data/augment.ts: rotate, flip, random resized crop, each resampling every pixel) cost about
 * 15 ms per 64 px image, more than the training step itself. Here the same random draws become one
 * affine map per image (output pixel → source pixel), applied by tfjs's Transform kernel with
 * bilinear interpolation: one resampling instead of three.
 */
import * as tf from '@tensorflow/tfjs';
import { AugmentOptions, DEFAULT_CROP_SCALE, randomAngle, randomCropBox, Rng } from './augment';

/**
 * The inverse affine map of one augmentation, in tf.image.transform's 8-parameter form, drawing
 * from `rng` in the same order as `augment()`: rotation, horizontal flip, vertical flip, crop box.
 */
export function augmentTransform(width: number, height: number, size: number, rng: Rng, options: AugmentOptions = {}): number[] {
  const theta = options.rotate === false ? 0 : (randomAngle(rng, options.rotation) * Math.PI) / 180;
  const fx = options.flip !== false && rng() < 0.5 ? -1 : 1;
  const fy = options.flip !== false && rng() < 0.5 ? -1 : 1;
  const scale = options.cropScale === undefined ? DEFAULT_CROP_SCALE : options.cropScale;
  const box = scale ? randomCropBox(width, height, rng, scale, options.cropRatio) : { left: 0, top: 0, width, height };
  const sx = box.width / size;
  const sy = box.height / size;
  // output (u, v) → crop: p = S·(u, v) + t1
  const t1 = [box.left + 0.5 * sx - 0.5, box.top + 0.5 * sy - 0.5];
  // un-flip: q = F·p + t2
  const t2 = [fx < 0 ? width - 1 : 0, fy < 0 ? height - 1 : 0];
  // un-rotate about the centre: r = R·(q − c) + c, as rotate() maps output to source
  const c = [(width - 1) / 2, (height - 1) / 2];
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const d = [fx * t1[0]! + t2[0]! - c[0]!, fy * t1[1]! + t2[1]! - c[1]!];
  return [
    cos * fx * sx,
    -sin * fy * sy,
    cos * d[0]! - sin * d[1]! + c[0]!,
    sin * fx * sx,
    cos * fy * sy,
    sin * d[0]! + cos * d[1]! + c[1]!,
    0,
    0,
  ];
}

/** Augments a batch [n, h, w, c] (any value range) to [n, size, size, c]. */
export function augmentBatch(images: tf.Tensor4D, size: number, rng: Rng, options: AugmentOptions = {}): tf.Tensor4D {
  const [n, h, w] = images.shape;
  const params = Array.from({ length: n }, () => augmentTransform(w, h, size, rng, options)).flat();
  return tf.tidy(() => tf.image.transform(images, tf.tensor2d(params, [n, 8]), 'bilinear', 'reflect', 0, [size, size]));
}

/** The central 75% of the area (the average scale the training crops see), as a transform. */
export function centreTransform(width: number, height: number, size: number): number[] {
  const side = Math.sqrt(0.75) * Math.min(width, height);
  const s = side / size;
  const left = (width - side) / 2;
  const top = (height - side) / 2;
  return [s, 0, left + 0.5 * s - 0.5, 0, s, top + 0.5 * s - 0.5, 0, 0];
}

/** Central views of a batch [n, h, w, c] at [n, size, size, c], for evaluation and prediction. */
export function centreBatch(images: tf.Tensor4D, size: number): tf.Tensor4D {
  const [n, h, w] = images.shape;
  const params = Array.from({ length: n }, () => centreTransform(w, h, size)).flat();
  return tf.tidy(() => tf.image.transform(images, tf.tensor2d(params, [n, 8]), 'bilinear', 'reflect', 0, [size, size]));
}
