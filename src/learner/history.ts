/** One epoch of training, as the learner prints it and keeps it in `learner.history`. */
export interface EpochRecord {
  /** 1-based, counted over the learner's whole history (chained fits continue the count). */
  epoch: number;
  /** The rate of the epoch's last iteration. */
  lr: number;
  /** fastai's training loss: the smoothed batch loss at the epoch's end (see SmoothedLoss). */
  trainLoss: number;
  /** Mean negative log-likelihood over the validation images. */
  validLoss: number;
  /** Fraction of validation images whose top class is right. */
  accuracy: number;
  /** Wall time of the epoch: training and validation. */
  seconds: number;
  /** Training images per second of training time (validation not counted). */
  imagesPerSec: number;
}

/** The columns of a history, in the order of rows, CSV and JSON. */
export const HISTORY_COLUMNS = [
  'epoch',
  'lr',
  'trainLoss',
  'validLoss',
  'accuracy',
  'seconds',
  'imagesPerSec',
] as const satisfies readonly (keyof EpochRecord)[];

/** The history as CSV: a header of the field names, then one line an epoch, full precision. */
export function historyToCsv(history: readonly EpochRecord[]): string {
  const lines = [HISTORY_COLUMNS.join(',')];
  for (const record of history) {
    lines.push(HISTORY_COLUMNS.map((column) => String(record[column])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

// Printed columns: title and width; numbers are right-aligned under the titles.
const PRINTED: [title: string, width: number, format: (r: EpochRecord) => string][] = [
  ['epoch', 5, (r) => String(r.epoch)],
  ['lr', 9, (r) => r.lr.toExponential(2)],
  ['train loss', 10, (r) => r.trainLoss.toFixed(4)],
  ['valid loss', 10, (r) => r.validLoss.toFixed(4)],
  ['accuracy', 8, (r) => r.accuracy.toFixed(4)],
  ['seconds', 7, (r) => r.seconds.toFixed(1)],
  ['images/s', 8, (r) => Math.round(r.imagesPerSec).toString()],
];

/** The title line above the per-epoch rows. */
export function epochHeader(): string {
  return PRINTED.map(([title, width]) => title.padStart(width)).join('  ');
}

/** One epoch as a fixed-width row under {@link epochHeader}. */
export function formatEpochRow(record: EpochRecord): string {
  return PRINTED.map(([, width, format]) => format(record).padStart(width)).join('  ');
}
