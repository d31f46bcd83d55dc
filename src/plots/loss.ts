/** Training and validation loss per epoch, from the records a training run returns or logs. */
import { Figure } from './figure';
import { figure, line, Mark } from './marks';

export interface LossRecord {
  epoch: number;
  train_loss: number;
  val_loss: number;
}

/** Both loss curves against epoch (series `train` and `validation`), lines with markers. */
export function lossCurve(records: readonly LossRecord[]): Mark {
  const rows = records.flatMap((r) => [
    { epoch: r.epoch, set: 'train', loss: r.train_loss },
    { epoch: r.epoch, set: 'validation', loss: r.val_loss },
  ]);
  return line(rows, { x: 'epoch', y: 'loss', z: 'set' });
}

/** The loss curves as a figure of their own. */
export function lossFigure(records: readonly LossRecord[], title?: string): Figure {
  return figure([lossCurve(records)], { title, x: 'epoch', y: 'loss per galaxy' });
}
