import * as tf from '@tensorflow/tfjs';
import { GLOBAL_MAX_POOL, GLOBAL_MAX_POOL_GRAD, type PoolGradAttrs } from './optionalKernels';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/**
 * Global max pool over height and width, [batch, h, w, c] -> [batch, c]: the lesson's
 * `F.adaptive_max_pool2d(x, 1)`, with PyTorch's gradient.
 *
 * Porting note: where several positions tie for the maximum, PyTorch sends the whole
 * gradient to the first of them; tf.max (and so tf.layers.globalMaxPooling2d) sends it to
 * every one. Ties are common after a BnLayer: every pixel that ReLU set to zero normalises to
 * the same value. So this layer carries its own gradient.
 */
export class GlobalMaxPool extends tf.layers.Layer {
  static className = 'GlobalMaxPool';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = inputShape as tf.Shape;
    return [shape[0], shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return globalMaxPool((Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D);
  }
}
tf.serialization.registerClass(GlobalMaxPool);

export function globalMaxPool2d(args?: LayerArgs): GlobalMaxPool {
  return new GlobalMaxPool(args);
}

/** [batch, h, w, c] -> [batch, c], the gradient going to the first maximum of each channel. */
export function globalMaxPool(x: tf.Tensor4D): tf.Tensor2D {
  const backend = tf.getBackend();
  const kernels = [GLOBAL_MAX_POOL, GLOBAL_MAX_POOL_GRAD].every((k) => tf.getKernel(k, backend));
  return (kernels ? withKernels : withOps)(x) as tf.Tensor2D;
}

/** As the backend's GLOBAL_MAX_POOL and GLOBAL_MAX_POOL_GRAD kernels (./optionalKernels). */
const withKernels = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
  const [, height, width] = x.shape;
  const [y, at] = tf.engine().runKernel(GLOBAL_MAX_POOL, { x }) as [tf.Tensor2D, tf.Tensor2D];
  save([at]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const inputs = { dy: Array.isArray(dy) ? dy[0] : dy, at: saved[0] };
      const attrs: PoolGradAttrs = { height, width };
      return tf.engine().runKernel(GLOBAL_MAX_POOL_GRAD, inputs, attrs as never) as tf.Tensor4D;
    },
  };
});

/** Composed of standard ops, for backends without the kernels. */
const withOps = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
  const [batch, h, w, c] = x.shape;
  const positions = tf.reshape(x, [batch, h * w, c]); // [batch, h*w, c]
  save([positions]);
  return {
    value: tf.max(positions, 1), // [batch, c]
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const upstream = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor2D; // [batch, c]
      const first = tf.argMax(saved[0], 1); // [batch, c]; argMax picks the first maximum
      const mask = tf.transpose(tf.oneHot(first, h * w), [0, 2, 1]); // [batch, h*w, c]
      return tf.reshape(tf.mul(mask, tf.expandDims(upstream, 1)), [batch, h, w, c]);
    },
  };
});
