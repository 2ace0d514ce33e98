import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM, BATCH_NORM_GRAD } from './optionalKernels';

/**
 * The training-mode normalisation of the lesson's BnLayer, `(y - mean) / std * m + a` with the
 * batch's per-channel mean and unbiased std (divisor n - 1, no epsilon), as one op with a
 * hand-written gradient; with `relu`, y = relu(x) is taken inside the op.
 *
 * Left to autodiff, the statistics' graph costs about twenty full-size ops in the backward
 * pass (broadcast multiplies, reductions over batch, height and width, and the adds that
 * join the paths into y). Its closed form needs two reductions and four elementwise passes:
 *
 *   xhat = (y - mean) / std,  g = dOut * m,  n = batch * h * w
 *   dy = (g - mean(g) - xhat * sum(g * xhat) / (n - 1)) / std
 *   dm = sum(dOut * xhat),    da = sum(dOut)
 *
 * (sums and means per channel, over batch, height and width). PyTorch's autograd of the
 * lesson's layer computes the same gradient. A backend that registers the kernels of
 * ./optionalKernels runs the op as them (two passes forward, two back, ReLU included).
 *
 * @param x [batch, h, w, c]: y itself, or with `relu` the convolution's output.
 * @param m [c], the learnable scale.
 * @param a [c], the learnable shift.
 * @param onStats Receives the batch's mean and std, [c] each, e.g. to store them for
 *   inference. They are disposed after the call: keep or assign them, don't hold them.
 * @param relu Normalise relu(x) rather than x.
 * @returns [batch, h, w, c], the normalised, scaled and shifted y.
 */
export function bnNormalize(
  x: tf.Tensor4D,
  m: tf.Tensor1D,
  a: tf.Tensor1D,
  onStats?: (mean: tf.Tensor1D, std: tf.Tensor1D) => void,
  relu = false,
): tf.Tensor4D {
  const [batch, h, w, c] = x.shape;
  const n = batch * h * w;
  if (n < 2) {
    throw new RangeError(
      `Expected bnNormalize to get at least 2 values a channel (batch * h * w), but got ${n} ` +
        `from x of shape [${x.shape.join(', ')}]: the unbiased std needs two.`,
    );
  }
  if (m.shape[0] !== c || a.shape[0] !== c) {
    throw new RangeError(
      `Expected m and a of shape [${c}] for x of shape [${x.shape.join(', ')}], but got ` +
        `[${m.shape.join(', ')}] and [${a.shape.join(', ')}].`,
    );
  }
  const backend = tf.getBackend();
  const kernels = [BATCH_NORM, BATCH_NORM_GRAD].every((k) => tf.getKernel(k, backend));
  const normalize = kernels ? withKernels(relu, onStats) : withOps(n, relu, onStats);
  return normalize(x, m, a) as tf.Tensor4D;
}

type Args = [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
type OnStats = ((mean: tf.Tensor1D, std: tf.Tensor1D) => void) | undefined;

/** The op as the backend's BATCH_NORM and BATCH_NORM_GRAD kernels. */
function withKernels(relu: boolean, onStats: OnStats) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, m, a, save] = args as Args;
    const attrs = { relu };
    const [y, mean, std] = tf.engine().runKernel(BATCH_NORM, { x, m, a }, attrs as never) as [
      tf.Tensor4D,
      tf.Tensor1D,
      tf.Tensor1D,
    ];
    onStats?.(mean, std);
    save([x, mean, std, m]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, meanS, stdS, mS] = saved;
        const inputs = { dy: Array.isArray(dy) ? dy[0] : dy, x: xs, mean: meanS, std: stdS, m: mS };
        return tf.engine().runKernel(BATCH_NORM_GRAD, inputs, attrs as never) as tf.Tensor[];
      },
    };
  });
}

/** The op composed of standard ops, for backends without the kernels. */
function withOps(n: number, relu: boolean, onStats: OnStats) {
  const axes = [0, 1, 2];
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, mm, aa, save] = args as Args;
    const yy = relu ? tf.relu(x) : x;
    const mean = tf.mean(yy, axes) as tf.Tensor1D; // [c]
    const centred = tf.sub(yy, mean); // [batch, h, w, c]
    const std = tf.sqrt(tf.div(tf.sum(tf.square(centred), axes), n - 1)) as tf.Tensor1D; // [c]
    onStats?.(mean, std);
    const scale = tf.div(mm, std); // [c]
    save([centred, std, mm, x]);
    return {
      value: tf.add(tf.mul(centred, scale), aa) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dOut = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
        const [cen, sd, mScale, xs] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D];
        const da = tf.sum(dOut, axes); // [c]
        const dCen = tf.sum(tf.mul(dOut, cen), axes); // [c]: sum(dOut * (y - mean))
        const dm = tf.div(dCen, sd);
        // dy = k1 * dOut - k2 * centred - k1 * da / n, with k1 = m / std and
        // k2 = k1 * sum(dOut * centred) / (std^2 * (n - 1)).
        const k1 = tf.div(mScale, sd);
        const k2 = tf.div(tf.mul(k1, dCen), tf.mul(tf.square(sd), n - 1));
        const shift = tf.div(tf.mul(k1, da), n);
        const dY = tf.sub(tf.sub(tf.mul(dOut, k1), tf.mul(cen, k2)), shift);
        // Through the ReLU: zero where x <= 0, as its own gradient (dy * step(x)) does.
        return [relu ? tf.mul(dY, tf.step(xs)) : dY, dm, da];
      },
    };
  });
}
