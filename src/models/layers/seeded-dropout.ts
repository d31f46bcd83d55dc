/**
 * Training-time dropout whose masks come from a seeded stream: a fine-tuning run with the same seed
 * draws the same masks, so its results repeat exactly. (tfjs's own dropout layer draws unseeded
 * masks; given a fixed seed it would draw the same mask at every step instead.) At prediction time
 * it passes its input through, like Keras dropout.
 */
import * as tf from '@tensorflow/tfjs';

/** x with a fresh dropout mask (scaled by 1 / (1 - rate)); draw `draw` of the stream of `seed`. */
export function dropoutMask(x: tf.Tensor, rate: number, seed: number, draw: number): tf.Tensor {
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed * 1_000_003 + draw), rate), 'float32');
    return tf.mul(x, tf.div(keep, 1 - rate));
  });
}

export class SeededDropout extends tf.layers.Layer {
  static className = 'GalmorphSeededDropout';
  readonly rate: number;
  readonly seed: number;
  /** Masks drawn so far: the next mask's seed is derived from it. */
  private draws = 0;

  constructor(args: { rate: number; seed: number; name?: string }) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`galmorph: dropout rate must be in [0, 1), got ${args.rate}`);
    if (!Number.isInteger(args.seed)) throw new Error(`galmorph: dropout seed must be an integer, got ${args.seed}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs.training || this.rate === 0) return x;
    return dropoutMask(x, this.rate, this.seed, ++this.draws);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);
