/**
 * Dropout that stays on at prediction time (Monte Carlo dropout): repeated predictions of one galaxy
 * differ, and their spread estimates the model's uncertainty (Zoobot keeps dropout on likewise).
 * Its masks come from a seeded stream (see seeded-dropout.ts), so a process that makes the same
 * predictions in the same order gets the same samples: `npm run reproduce` writes the same tables.
 */
import * as tf from '@tensorflow/tfjs';
import { dropoutMask } from './seeded-dropout';

let suspended = 0;

/**
 * Runs `f` with every Monte Carlo dropout layer passing its input through (the masks' expected
 * value; no mask is drawn, so later samples are the ones they would have been). For the training
 * loop's validation loss: early stopping and the choice of the best epoch compare it epoch to
 * epoch, and with masks drawn it moved by more than the epochs differ.
 */
export async function withoutMonteCarloDropout<T>(f: () => Promise<T>): Promise<T> {
  suspended++;
  try {
    return await f();
  } finally {
    suspended--;
  }
}

export class MonteCarloDropout extends tf.layers.Layer {
  static className = 'MonteCarloDropout';
  readonly rate: number;
  readonly seed: number;
  private draws = 0;

  constructor(args: { rate: number; seed?: number; name?: string }) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`galmorph: dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return this.rate > 0 && suspended === 0 ? dropoutMask(x, this.rate, this.seed, ++this.draws) : x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(MonteCarloDropout);
