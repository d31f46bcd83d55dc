/**
 * Dropout that stays on at prediction time (Monte Carlo dropout): repeated predictions of one galaxy
 * differ, and their spread estimates the model's uncertainty (Zoobot keeps dropout on likewise).
 */
import * as tf from '@tensorflow/tfjs';

export class MonteCarloDropout extends tf.layers.Layer {
  static className = 'MonteCarloDropout';
  readonly rate: number;

  constructor(args: { rate: number; name?: string }) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`galmorph: dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return this.rate > 0 ? tf.dropout(x, this.rate) : x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}
tf.serialization.registerClass(MonteCarloDropout);
