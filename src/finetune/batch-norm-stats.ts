/**
 * Batch-normalisation statistics recomputed from data. A network trained from scratch on a few
 * dozen galaxies takes only a few dozen steps, too few for the moving averages (momentum 0.99) to
 * leave their initial values, so in inference mode it would normalise with the wrong statistics.
 * Here the moving mean and variance of every batch-normalisation layer become the average of the
 * batch statistics over the given batches (the k-th batch with momentum k/(k+1)).
 */
import * as tf from '@tensorflow/tfjs';

const BN_CLASSES = new Set(['GalmorphBatchNorm', 'BatchNormalization']);

/** The batch-normalisation layers of a model. */
export function batchNormLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => BN_CLASSES.has(l.getClassName()));
}

/** Sets the moving statistics of `model`'s batch normalisation from `batches` (model inputs; not disposed). */
export function recalibrateBatchNorm(model: tf.LayersModel, batches: tf.Tensor[]): void {
  const layers = batchNormLayers(model) as (tf.layers.Layer & { momentum: number })[];
  if (layers.length === 0 || batches.length === 0) return;
  const saved = layers.map((l) => l.momentum);
  try {
    batches.forEach((x, k) => {
      for (const l of layers) l.momentum = k / (k + 1);
      tf.tidy(() => {
        model.apply(x, { training: true });
      });
    });
  } finally {
    layers.forEach((l, i) => (l.momentum = saved[i]!));
  }
}
