/**
 * Batch normalisation with a closed-form gradient. tfjs-layers' own BatchNormalization
 * differentiates through moments() and FusedBatchNorm, whose gradient tiles the statistics to the
 * full tensor size; on the wasm backend that Tile dominated a training step. Here the backward pass
 * is the textbook formula (per channel, over the m = N·H·W values):
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·rstd/m · (m·dy − dβ − x̂·dγ)
 * with the per-channel sums from pooling and the per-channel affine maps as 1x1 depthwise
 * convolutions, the wasm backend's fastest paths; on the onednn backend, native one-pass kernels
 * for the statistics, the gradient sums and the affine maps. Same weights and names as Keras' layer.
 */
import * as tf from '@tensorflow/tfjs';
import { BN_AFFINE, BN_BACKWARD_SUMS, BN_STATS, galmorphKernelsFor } from '../../backend/onednn';

export interface BatchNormArgs {
  momentum?: number;
  epsilon?: number;
  name?: string;
  trainable?: boolean;
}

/**
 * Per-channel mean over all axes but the last. For NHWC images it goes through a whole-image
 * average pooling (XNNPACK, multi-threaded) and a mean over the batch: the wasm backend's reduction
 * over leading axes transposes the whole tensor first and was 25x slower.
 */
function channelMean(t: tf.Tensor): tf.Tensor1D {
  if (t.rank === 4) {
    const pooled = tf.avgPool(t as tf.Tensor4D, [t.shape[1]!, t.shape[2]!], 1, 'valid');
    return tf.mean(pooled, [0, 1, 2]) as tf.Tensor1D;
  }
  return tf.mean(t, t.shape.slice(0, -1).map((_, i) => i)) as tf.Tensor1D;
}

/** x·scale + shift per channel; for NHWC one 1x1 depthwise convolution with bias (one pass). */
function affine(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor {
  if (x.rank === 4) {
    const c = x.shape[3]!;
    return tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D, strides: 1, pad: 'valid', bias: shift });
  }
  return tf.add(tf.mul(x, scale), shift);
}

/** On the onednn backend: the native kernels (one pass each over the tensor). */
const nativeStats = (x: tf.Tensor) => tf.engine().runKernel(BN_STATS, { x }, {}) as unknown as [tf.Tensor1D, tf.Tensor1D];
/** Σdy and Σdy·(x − μ) per channel (centred: no cancellation in float32 when |μ| >> σ). */
const nativeSums = (dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor1D) => tf.engine().runKernel(BN_BACKWARD_SUMS, { dy, x, mean }, {}) as unknown as [tf.Tensor1D, tf.Tensor1D];
/** x·scale + shift (+ (x2 − center)·scale2), per channel. */
function nativeAffine(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D, x2?: { x: tf.Tensor; scale: tf.Tensor1D; center: tf.Tensor1D }): tf.Tensor {
  const inputs: tf.NamedTensorMap = x2 ? { x, scale, shift, x2: x2.x, scale2: x2.scale, center: x2.center } : { x, scale, shift };
  return tf.engine().runKernel(BN_AFFINE, inputs, {}) as tf.Tensor;
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
  const m = x.size / x.shape[x.rank - 1]!;
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const op = tf.customGrad((...args: (tf.Tensor | ((ts: tf.Tensor[]) => void))[]) => {
    const [xs, g, bt] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as (ts: tf.Tensor[]) => void;
    const native = galmorphKernelsFor(xs);
    let mu: tf.Tensor1D;
    let v: tf.Tensor1D;
    if (native) {
      [mu, v] = nativeStats(xs);
    } else {
      mu = channelMean(xs);
      v = channelMean(tf.squaredDifference(xs, mu));
    }
    // customGrad runs this function inside a tidy: keep the statistics for the caller.
    mean = tf.keep(mu);
    variance = tf.keep(v);
    const rstd = tf.rsqrt(tf.add(v, epsilon)) as tf.Tensor1D;
    const scale = tf.mul(g, rstd) as tf.Tensor1D;
    const shift = tf.sub(bt, tf.mul(mu, scale)) as tf.Tensor1D;
    const y = native ? nativeAffine(xs, scale, shift) : affine(xs, scale, shift);
    save([xs, mu, rstd, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, smu, r, sg] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const useNative = galmorphKernelsFor(dy);
        if (useNative) {
          // dx = a·dy + b·(x − μ) + c0 with a = γ·r, b = −a·r·dγ/m, c0 = −a·dβ/m
          const [dBeta, sumDyXc] = nativeSums(dy, sx, smu);
          const dGamma = tf.mul(r, sumDyXc);
          const a = tf.mul(sg, r) as tf.Tensor1D;
          const bCoef = tf.div(tf.mul(tf.neg(a), tf.mul(r, dGamma)), m) as tf.Tensor1D;
          const c0 = tf.div(tf.mul(tf.neg(a), dBeta), m) as tf.Tensor1D;
          return [nativeAffine(dy, a, c0, { x: sx, scale: bCoef, center: smu }), dGamma, dBeta];
        }
        const sumDy = tf.mul(channelMean(dy), m);
        const sumDyX = tf.mul(channelMean(tf.mul(dy, sx)), m);
        const dBeta = sumDy;
        const dGamma = tf.mul(r, tf.sub(sumDyX, tf.mul(smu, sumDy)));
        // dx = γ·r/m·(m·dy − dβ − x̂·dγ) = A·dy + B·x + C per channel
        const a = tf.mul(sg, r) as tf.Tensor1D;
        const bCoef = tf.div(tf.mul(tf.neg(a), tf.mul(r, dGamma)), m) as tf.Tensor1D;
        const c = tf.sub(tf.div(tf.mul(tf.neg(a), dBeta), m), tf.mul(bCoef, smu)) as tf.Tensor1D;
        const dx = tf.add(affine(dy, a, c), tf.mul(sx, bCoef));
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
      if (galmorphKernelsFor(x)) {
        return tf.tidy(() => {
          const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.movingVariance.read(), this.epsilon))) as tf.Tensor1D;
          return nativeAffine(x, scale, tf.sub(beta, tf.mul(this.movingMean.read(), scale)) as tf.Tensor1D);
        });
      }
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
