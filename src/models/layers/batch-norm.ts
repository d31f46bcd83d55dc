/**
 * Batch normalisation with a closed-form gradient. tfjs-layers' own BatchNormalization
 * differentiates through moments() and FusedBatchNorm, whose gradient tiles the statistics to the
 * full tensor size; on the wasm backend that Tile dominated a training step. Here the backward pass
 * is the textbook formula (per channel, over the m = N·H·W values):
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·rstd/m · (m·dy − dβ − x̂·dγ)
 * using broadcasting only. Same weights, names and serialisation as Keras' BatchNormalization.
 */
import * as tf from '@tensorflow/tfjs';

export interface BatchNormArgs {
  momentum?: number;
  epsilon?: number;
  name?: string;
  trainable?: boolean;
}

/**
 * Normalises over all axes but the last with the batch statistics; the gradient is closed-form.
 * The returned `mean` and `variance` are outside any tidy scope: the caller must dispose them.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const m = x.size / x.shape[x.rank - 1]!;
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const op = tf.customGrad((...args: (tf.Tensor | ((ts: tf.Tensor[]) => void))[]) => {
    const [xs, g, bt] = args as tf.Tensor[];
    const save = args[3] as (ts: tf.Tensor[]) => void;
    const moments = tf.moments(xs!, axes);
    // customGrad runs this function inside a tidy: keep the statistics for the caller, who
    // disposes them (see the `mean`/`variance` contract below).
    mean = tf.keep(moments.mean as tf.Tensor1D);
    variance = tf.keep(moments.variance as tf.Tensor1D);
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const y = tf.batchNorm(xs!, mean, variance, bt as tf.Tensor1D, g as tf.Tensor1D, epsilon);
    save([xs!, mean, rstd, g!]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, smean, srstd, sg] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const xhat = tf.mul(tf.sub(sx, smean), srstd);
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xhat), axes);
        const scale = tf.div(tf.mul(sg, srstd), m);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(dy, m), dBeta), tf.mul(xhat, dGamma)), scale);
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean, variance };
}

export class GalmorphBatchNorm extends tf.layers.Layer {
  static className = 'GalmorphBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: BatchNormArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.supportsMasking = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`galmorph: ${this.name} needs a known channel count, got shape [${shape.join(', ')}]`);
    this.gamma = this.addWeight('gamma', [channels], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const gamma = this.gamma.read() as tf.Tensor1D;
    const beta = this.beta.read() as tf.Tensor1D;
    if (!kwargs.training) {
      return tf.batchNorm(x, this.movingMean.read() as tf.Tensor1D, this.movingVariance.read() as tf.Tensor1D, beta, gamma, this.epsilon);
    }
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, this.epsilon);
    // Moving statistics as Keras keeps them (unbiased variance), outside the gradient.
    const m = x.size / x.shape[x.rank - 1]!;
    tf.tidy(() => {
      const unbiased = m > 1 ? tf.mul(variance, m / (m - 1)) : variance;
      this.movingMean.write(tf.add(tf.mul(this.movingMean.read(), this.momentum), tf.mul(mean, 1 - this.momentum)));
      this.movingVariance.write(tf.add(tf.mul(this.movingVariance.read(), this.momentum), tf.mul(unbiased, 1 - this.momentum)));
    });
    mean.dispose();
    variance.dispose();
    return y;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(GalmorphBatchNorm);
