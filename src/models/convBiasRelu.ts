import * as tf from '@tensorflow/tfjs';
import { RELU_BIAS_GRAD } from './optionalKernels';

/**
 * relu(conv2d(x, filter) + bias), NHWC, as one kernel forward and with a gradient that passes
 * over the output gradient once for the ReLU and the bias together.
 *
 * tf.fused.conv2d computes the same forward pass, but its gradient takes the ReLU's mask and
 * the bias's sum as separate full-size ops (step, multiply, sum) and computes the input's
 * gradient even for a model's first layer, where nothing needs it. Here the op is a kernel of
 * its own, CONV_BIAS_RELU, which runs the backend's FusedConv2D, with a registered gradient
 * whose convolution parts are computed only when asked for: the input's only if something
 * upstream needs it. The masked output gradient and the bias's gradient come from one
 * RELU_BIAS_GRAD kernel where the backend has one (see ./optionalKernels), else from standard
 * ops.
 */
export const CONV_BIAS_RELU = 'CifarNetsConvBiasRelu';

type Pad = 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

export interface ConvBiasReluAttrs {
  strides: number;
  pad: Pad;
  relu: boolean;
}

/** The backends CONV_BIAS_RELU is registered for, as a call of their own FusedConv2D. */
const registered = new Set<string>();

function register(backendName: string): boolean {
  if (registered.has(backendName)) return true;
  if (tf.getKernel('FusedConv2D', backendName) === undefined) return false;
  tf.registerKernel({
    kernelName: CONV_BIAS_RELU,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as ConvBiasReluAttrs;
      const fusedAttrs = {
        strides: a.strides,
        pad: a.pad,
        dataFormat: 'NHWC',
        dilations: 1,
        activation: a.relu ? 'relu' : 'linear',
      };
      // Looked up each call: a backend may replace its FusedConv2D (cifar-nets does on wasm).
      const fused = tf.getKernel('FusedConv2D', backendName)!;
      return fused.kernelFunc({ inputs, backend, attrs: fusedAttrs as never });
    },
  });
  registered.add(backendName);
  return true;
}

tf.registerGradient({
  kernelName: CONV_BIAS_RELU,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, relu } = attrs as unknown as ConvBiasReluAttrs;
    const conv = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    // The output gradient through the ReLU, and the bias's gradient, in one pass. Made here,
    // not in a part: each part runs in its own tidy, which would dispose it after the first.
    const [g, db] = reluBiasGrad(dy as tf.Tensor4D, y, relu);
    return {
      x: () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter }, {
          ...conv,
          inputShape: x.shape,
        } as never) as tf.Tensor4D,
      filter: () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, {
          ...conv,
          filterShape: filter.shape,
        } as never) as tf.Tensor4D,
      bias: () => db,
    };
  },
});

function reluBiasGrad(dy: tf.Tensor4D, y: tf.Tensor4D, relu: boolean): [tf.Tensor4D, tf.Tensor1D] {
  if (tf.getKernel(RELU_BIAS_GRAD, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(RELU_BIAS_GRAD, { dy, y }, { relu } as never) as [
      tf.Tensor4D,
      tf.Tensor1D,
    ];
  }
  const g = relu ? (tf.mul(dy, tf.step(y)) as tf.Tensor4D) : dy;
  return [g, tf.sum(g, [0, 1, 2])];
}

/**
 * relu(conv2d(x, filter, strides, pad) + bias) with relu, else without it.
 *
 * @param x [batch, h, w, inChannels]
 * @param filter [k, k, inChannels, outChannels]
 * @param bias [outChannels]
 */
export function convBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  attrs: ConvBiasReluAttrs,
): tf.Tensor4D {
  if (!register(tf.getBackend())) {
    // A backend without FusedConv2D: the same computation from standard ops.
    const y = tf.add(tf.conv2d(x, filter, attrs.strides, attrs.pad), bias) as tf.Tensor4D;
    return attrs.relu ? tf.relu(y) : y;
  }
  return tf.engine().runKernel(CONV_BIAS_RELU, { x, filter, bias }, attrs as never) as tf.Tensor4D;
}
