import type * as tf from '@tensorflow/tfjs';

/** Throws unless each of `keys` in `args` is a positive integer, naming the layer class. */
export function checkPositiveIntegers<T extends object>(
  className: string,
  args: T,
  keys: (keyof T & string)[],
): void {
  for (const key of keys) {
    const value = args[key];
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new Error(`Expected ${className} ${key} to be a positive integer, but got ${value}.`);
    }
  }
}

/** Throws unless an NHWC `inputShape` has `expected` channels, naming the layer. */
export function checkInputChannels(
  layerName: string,
  className: string,
  expected: number,
  inputShape: tf.Shape,
): void {
  if (inputShape[3] !== expected) {
    throw new Error(
      `${className} '${layerName}' expected ${expected} input channels, but got ` +
        `${inputShape[3]} (input shape [${inputShape.join(', ')}]).`,
    );
  }
}

/**
 * The NHWC output shape of a convolution with `padding` zeros on every side, as PyTorch
 * computes it: `floor((n + 2 * padding - kernelSize) / strides) + 1` for height and width.
 */
export function convOutputShape(
  inputShape: tf.Shape,
  conv: { filters: number; kernelSize: number; strides: number; padding: number },
): tf.Shape {
  const [batch, h, w] = inputShape;
  const size = (n: number | null) =>
    n === null ? null : Math.floor((n + 2 * conv.padding - conv.kernelSize) / conv.strides) + 1;
  return [batch, size(h), size(w), conv.filters];
}
