import * as tf from '@tensorflow/tfjs';

/** One PyTorch tensor: its shape in PyTorch's layout and its float32 values. */
export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

/** Where a weight of this model lives in a PyTorch state dict, and how to convert it. */
export interface TorchWeightRef {
  /** PyTorch's name, e.g. 'layers.0.conv.weight'. */
  torchName: string;
  variable: tf.LayerVariable;
  /** PyTorch layout -> TensorFlow.js layout. */
  fromTorch(t: TorchTensor): tf.Tensor;
  /** TensorFlow.js layout -> PyTorch layout (e.g. to compare gradients). */
  toTorch(t: tf.Tensor): tf.Tensor;
}

/** Weight names of each layer type: this package's suffix -> PyTorch's suffix. */
const SUFFIXES: Record<string, Record<string, string>> = {
  Dense: { kernel: 'weight', bias: 'bias' },
  Conv2d: { kernel: 'weight', bias: 'bias' },
  BnLayer: { kernel: 'conv.weight', m: 'm', a: 'a' },
};

/**
 * Maps the trainable weights of one of this package's models to PyTorch's state-dict names.
 * Layers are named after the lesson's modules ('layers.0', 'conv1', 'out'); a ConvLayer's
 * convolution is 'layers.0.conv'. Conv kernels are [out, in, kh, kw] in PyTorch and
 * [kh, kw, in, out] here; dense kernels [out, in] and [in, out]. A dense layer right after
 * a Flatten of an image takes its inputs in C,H,W order in PyTorch and H,W,C order here.
 */
export function torchWeightRefs(model: tf.LayersModel): TorchWeightRef[] {
  const refs: TorchWeightRef[] = [];
  model.layers.forEach((layer, index) => {
    const suffixes = SUFFIXES[layer.getClassName()];
    if (!suffixes) return;
    const previous = model.layers[index - 1];
    const flattened =
      previous?.getClassName() === 'Flatten' ? (previous.input as tf.SymbolicTensor).shape : null;
    for (const variable of layer.trainableWeights) {
      const own = variable.originalName.split('/').pop() as string;
      const suffix = suffixes[own];
      if (suffix === undefined)
        throw new Error(`No PyTorch name for weight ${variable.originalName}`);
      refs.push({
        torchName: `${layer.name}.${suffix}`,
        variable: variable as unknown as tf.LayerVariable,
        ...layoutConverters(variable.shape as number[], flattened),
      });
    }
  });
  return refs;
}

function layoutConverters(
  shape: number[],
  flattenedImage: tf.Shape | null,
): Pick<TorchWeightRef, 'fromTorch' | 'toTorch'> {
  if (shape.length === 4) {
    return {
      fromTorch: (t) => tf.transpose(tf.tensor(t.data, t.shape), [2, 3, 1, 0]),
      toTorch: (t) => tf.transpose(t, [3, 2, 0, 1]),
    };
  }
  if (shape.length === 2 && flattenedImage) {
    const [h, w, c] = flattenedImage.slice(1) as number[];
    const out = shape[1];
    // PyTorch [out, c*h*w] -> [out, c, h, w] -> [h, w, c, out] -> [h*w*c, out].
    return {
      fromTorch: (t) =>
        tf.tidy(() => tf.transpose(tf.tensor(t.data, [out, c, h, w]), [2, 3, 1, 0]).reshape(shape)),
      toTorch: (t) =>
        tf.tidy(() =>
          tf.transpose(t.reshape([h, w, c, out]), [3, 2, 0, 1]).reshape([out, c * h * w]),
        ),
    };
  }
  if (shape.length === 2) {
    return {
      fromTorch: (t) => tf.tensor(t.data, t.shape).transpose(),
      toTorch: (t) => t.transpose(),
    };
  }
  // Vectors: biases are [n] in both; BnLayer's m and a are [n, 1, 1] in PyTorch.
  return {
    fromTorch: (t) => tf.tensor(t.data, shape),
    toTorch: (t) => t.clone(),
  };
}

/** Loads a PyTorch state dict (name -> tensor) into the model; every weight must be there. */
export function loadTorchState(model: tf.LayersModel, state: Map<string, TorchTensor>): void {
  for (const ref of torchWeightRefs(model)) {
    const t = state.get(ref.torchName);
    if (!t) {
      throw new Error(
        `Expected PyTorch parameter '${ref.torchName}' for model ${model.name}, ` +
          `but the state has only ${[...state.keys()].join(', ')}.`,
      );
    }
    const value = ref.fromTorch(t);
    ref.variable.write(value);
    value.dispose();
  }
}
