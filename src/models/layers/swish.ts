/**
 * Swish, x·σ(x) (EfficientNet's activation), as a layer with a closed-form gradient
 * dy·σ(x)·(1 + x·(1 − σ(x))). tfjs-layers' 'swish' activation composes it from a product with the
 * scalar 1, a sigmoid and a product, and autodiff adds five more element-wise passes for the
 * gradient; on the onednn backend this is one native pass each way. Elsewhere (and for small
 * tensors) it is the same composition as tfjs's, so results agree with the 'swish' activation.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeSwish, SWISH, SWISH_GRAD } from '../../backend/onednn';

/** x·σ(x), natively where the onednn backend is active. */
export function swish(x: tf.Tensor): tf.Tensor {
  if (!nativeSwish(x)) return tf.mul(x, tf.sigmoid(x));
  const op = tf.customGrad((...args: (tf.Tensor | ((ts: tf.Tensor[]) => void))[]) => {
    const xs = args[0] as tf.Tensor;
    const save = args[1] as (ts: tf.Tensor[]) => void;
    save([xs]);
    return {
      value: tf.engine().runKernel(SWISH, { x: xs }, {}) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(SWISH_GRAD, { dy, x: saved[0]! }, {}) as tf.Tensor,
    };
  });
  return op(x);
}

/** The swish activation as a layer (no weights); serialises as 'GalmorphSwish'. */
export class GalmorphSwish extends tf.layers.Layer {
  static className = 'GalmorphSwish';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => swish(Array.isArray(inputs) ? inputs[0]! : inputs));
  }

  override computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return shape;
  }
}
tf.serialization.registerClass(GalmorphSwish);
