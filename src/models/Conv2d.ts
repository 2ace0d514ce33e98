import * as tf from '@tensorflow/tfjs';
import { convBiasRelu } from './convBiasRelu';
import { checkInputChannels, checkPositiveIntegers, convOutputShape } from './convShape';
import { torchInit } from './torchInit';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface Conv2dArgs extends LayerArgs {
  /** Input channels (PyTorch's `in_channels`); checked against the input when built. */
  inChannels: number;
  /** Output channels (PyTorch's `out_channels`). */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride. Default 1. */
  strides?: number;
  /** Zero padding on every side, as PyTorch's `padding`. Default 0. */
  padding?: number;
  /** Apply ReLU to the output, the lesson's `F.relu(conv(x))`. Default false. */
  relu?: boolean;
  /** Seed for the initial kernel and bias. */
  seed?: number;
}

/**
 * PyTorch's `nn.Conv2d` with a bias, NHWC, optionally followed by ReLU.
 *
 * Porting note: tf.layers.conv2d offers only 'valid' and 'same' padding, and 'same' pads an
 * even-sized input at the bottom and right only where PyTorch's `padding=1` pads every side.
 * This layer pads as PyTorch does. It runs as one op (./convBiasRelu) whose gradient takes
 * the ReLU and the bias in one pass, and computes the input's gradient only where something
 * needs it: not for a model's first layer.
 */
export class Conv2d extends tf.layers.Layer {
  static className = 'Conv2d';

  readonly inChannels: number;
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly relu: boolean;
  private readonly seed?: number;

  private kernel!: tf.LayerVariable; // [k, k, inChannels, filters]
  private bias!: tf.LayerVariable; // [filters]

  constructor(args: Conv2dArgs) {
    super(args);
    checkPositiveIntegers('Conv2d', args, ['inChannels', 'filters', 'kernelSize']);
    this.inChannels = args.inChannels;
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 0;
    this.relu = args.relu ?? false;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    checkInputChannels(this.name, 'Conv2d', this.inChannels, inputShape as tf.Shape);
    const k = this.kernelSize;
    // The bias takes -(seed + 1): a model hands its layers seeds seed, seed + 1, ..., so the
    // next layer's kernel must not share this bias's seed, and so its random stream.
    const seeds = [this.seed, this.seed === undefined ? undefined : -(this.seed + 1)];
    const init = torchInit(this.inChannels * k * k, () => seeds.shift());
    this.kernel = this.addWeight(
      'kernel',
      [k, k, this.inChannels, this.filters],
      'float32',
      init.kernelInitializer,
    );
    this.bias = this.addWeight('bias', [this.filters], 'float32', init.biasInitializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return convOutputShape(inputShape as tf.Shape, this);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const p = this.padding;
      const pad: 'valid' | [[0, 0], [number, number], [number, number], [0, 0]] =
        p === 0
          ? 'valid'
          : [
              [0, 0],
              [p, p],
              [p, p],
              [0, 0],
            ];
      const filter = this.kernel.read() as tf.Tensor4D;
      const bias = this.bias.read() as tf.Tensor1D;
      return convBiasRelu(x, filter, bias, { strides: this.strides, pad, relu: this.relu });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      inChannels: this.inChannels,
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      relu: this.relu,
    };
  }
}
tf.serialization.registerClass(Conv2d);
