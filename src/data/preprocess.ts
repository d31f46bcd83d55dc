/**
 * How decoded images become a network's input. Every model records its `Preprocess` (a galaxy
 * model's config, a fine-tuned model's start), so training, prediction, embedding and fine-tuning
 * all prepare pixels the same way:
 *   galmorph               decoded at `decodeSize(size)`, central crop to `size` (or Zoobot's
 *                          random rotation, flips and resized crop), scaled to [0, 1]
 *   imagenet-mobilenetv2   224 px, x/255 then ImageNet mean (0.485, 0.456, 0.406) and std
 *                          (0.229, 0.224, 0.225), as the weights' README states
 *   imagenet-mobilenetv1   224 px, x/127.5 - 1
 */
import * as tf from '@tensorflow/tfjs';
import { ImageLoader, Pixels } from './images';
import { AugmentOptions, Rng } from './augment';
import { augmentBatch, centreBatch } from './augment-batch';

/** How images become the encoder's input (saved with every model). */
export type Preprocess =
  | { kind: 'galmorph'; size: number; channels: 1 | 3 }
  | { kind: 'imagenet-mobilenetv2'; size: 224 }
  | { kind: 'imagenet-mobilenetv1'; size: 224 };

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Decoded size before cropping: the random resized crop keeps 70-80% of the area. */
export function decodeSize(size: number): number {
  return Math.round(size / Math.sqrt(0.75));
}

/** The side length images are decoded at before augmentation or the central view. */
export function decodeSizeFor(p: Preprocess): number {
  return p.kind === 'galmorph' ? decodeSize(p.size) : p.size;
}

/** An image loader that decodes at the size and channels a preprocessing needs. */
export function loaderFor(p: Preprocess): ImageLoader {
  return new ImageLoader({ size: decodeSizeFor(p), greyscale: p.kind === 'galmorph' && p.channels === 1 });
}

/** Decoded pixels (0-255, all the same size) as one float tensor [n, h, w, channels]. */
export function pixelsTensor(images: Pixels[]): tf.Tensor4D {
  const { width, height, channels } = images[0]!;
  const data = new Float32Array(images.length * width * height * channels);
  images.forEach((p, i) => {
    if (p.width !== width || p.height !== height || p.channels !== channels) {
      throw new Error(`galmorph: image ${i} is ${p.width}x${p.height}x${p.channels}, the batch's first is ${width}x${height}x${channels}`);
    }
    data.set(p.data, i * width * height * channels);
  });
  return tf.tensor4d(data, [images.length, height, width, channels]);
}

/** Galaxy-model input in [0, 1]: Zoobot's random augmentations, or the central view. */
export function inputBatch(images: Pixels[], size: number, rng?: Rng, augment: AugmentOptions = {}): tf.Tensor4D {
  const raw = pixelsTensor(images);
  const out = tf.tidy(() => tf.div(rng ? augmentBatch(raw, size, rng, augment) : centreBatch(raw, size), 255) as tf.Tensor4D);
  raw.dispose();
  return out;
}

/** Images [n, 224, 224, 3] in 0..255 → MobileNet v1's input, x/127.5 - 1. */
export function imagenetInputV1(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.div(pixels, 127.5), 1) as tf.Tensor4D);
}

/** Images [n, 224, 224, 3] in 0..255 → MobileNetV2's normalised input. */
export function imagenetInput(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.sub(tf.div(pixels, 255), MEAN), STD) as tf.Tensor4D);
}

/**
 * Decoded pixels (0-255, decoded at `decodeSizeFor`) → the encoder's input. With `rng`, Zoobot's
 * training augmentations: for galmorph inputs rotation, flips and a random resized crop (the
 * central view otherwise, as in pretraining); for ImageNet inputs rotation and flips of the whole
 * image (which is also what the frozen ImageNet features see).
 */
export function prepareBatch(pixels: Pixels[], p: Preprocess, rng?: Rng): tf.Tensor4D {
  if (p.kind === 'galmorph') return inputBatch(pixels, p.size, rng);
  const raw = pixelsTensor(pixels);
  const out = tf.tidy(() => {
    const view = rng ? augmentBatch(raw, p.size, rng, { cropScale: null }) : raw;
    return p.kind === 'imagenet-mobilenetv2' ? imagenetInput(view) : imagenetInputV1(view);
  });
  raw.dispose();
  return out;
}
