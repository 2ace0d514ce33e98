import type * as tf from '@tensorflow/tfjs';

/** One layer's row in a {@link ModelSummary}. */
export interface LayerSummary {
  /** The layer's name, e.g. 'layers.0', after the lesson's module names. */
  name: string;
  /** The layer's class name, e.g. 'Conv2D' or 'BnLayer'. */
  type: string;
  /** Output shape, NHWC for images, `null` where the size is free (the batch). */
  outputShape: (number | null)[];
  /** Trainable parameters, as PyTorch counts them. */
  params: number;
  /**
   * Non-trainable values the layer keeps, e.g. BnLayer's batch `means` and `stds`. The weights
   * of a frozen layer (`trainable` false) count here too, as in Keras's summary.
   */
  buffers: number;
  /** Whether training updates the layer's weights. */
  trainable: boolean;
}

/** What `model.summary()` shows in Keras, or `learn.summary()` in fastai, as data. */
export interface ModelSummary {
  /** The model's name, e.g. 'ConvBnNet'. */
  model: string;
  layers: LayerSummary[];
  /** Trainable parameters of the whole model; equals PyTorch's count for the lesson's model. */
  totalParams: number;
  /** Non-trainable values (BnLayer statistics), which PyTorch does not count as parameters. */
  nonTrainableParams: number;
}

/** Sizes `model` layer by layer; the data behind {@link formatSummary}. */
export function summarize(model: tf.LayersModel): ModelSummary {
  const size = (weights: tf.LayerVariable[]) =>
    weights.reduce((n, w) => n + w.shape.reduce((m: number, d) => m * (d ?? 1), 1), 0);
  const layers = model.layers.map((layer) => {
    // A layer with several outputs (none in the lesson's models) shows its first.
    const shape = layer.outputShape;
    const first = Array.isArray(shape[0]) ? (shape[0] as (number | null)[]) : shape;
    return {
      name: layer.name,
      type: layer.getClassName(),
      outputShape: [...(first as (number | null)[])],
      params: size(layer.trainableWeights),
      buffers: size(layer.nonTrainableWeights),
      trainable: layer.trainable,
    };
  });
  return {
    model: model.name,
    layers,
    totalParams: layers.reduce((n, l) => n + l.params, 0),
    nonTrainableParams: layers.reduce((n, l) => n + l.buffers, 0),
  };
}

/**
 * A table of `summary` for the terminal: one row per layer with its name and type, output
 * shape, trainable parameters, non-trainable values and whether it trains, then the totals.
 *
 * ```text
 * Model: ConvBnNet
 * Layer (type)              Output shape          Params  Buffers  Trainable
 * ...
 * conv1 (Conv2D)            [batch, 32, 32, 10]      760        0  yes
 * ```
 */
export function formatSummary(summary: ModelSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const shape = (s: (number | null)[]) =>
    `[${s.map((d, i) => (d === null ? (i === 0 ? 'batch' : '?') : String(d))).join(', ')}]`;
  const header = ['Layer (type)', 'Output shape', 'Params', 'Buffers', 'Trainable'];
  const rows = summary.layers.map((l) => [
    `${l.name} (${l.type})`,
    shape(l.outputShape),
    n(l.params),
    n(l.buffers),
    // A layer without weights has nothing to train; a blank says so better than 'yes'.
    l.params + l.buffers === 0 ? '' : l.trainable ? 'yes' : 'no',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  // Names and shapes read left to right; counts line up on their last digit.
  const alignRight = [false, false, true, true, false];
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (alignRight[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = (ch: string) =>
    ch.repeat(widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1));
  const keepers = [...new Set(summary.layers.filter((l) => l.buffers > 0).map((l) => l.type))];
  return [
    `Model: ${summary.model}`,
    rule('='),
    line(header),
    rule('='),
    ...rows.map(line),
    rule('='),
    `Trainable params: ${n(summary.totalParams)}`,
    `Non-trainable params: ${n(summary.nonTrainableParams)}` +
      (summary.nonTrainableParams > 0
        ? ` (${keepers.join(', ')} statistics; PyTorch does not count them as parameters)`
        : ''),
  ].join('\n');
}
