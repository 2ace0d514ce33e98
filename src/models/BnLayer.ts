import * as tf from '@tensorflow/tfjs';
import { bnNormalize } from './bnNormalize';
import { checkInputChannels, checkPositiveIntegers, convOutputShape } from './convShape';
import { seedSequence, torchInit } from './torchInit';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Kwargs = { training?: boolean };

export interface BnLayerArgs extends LayerArgs {
  /** Input channels (the lesson's `ni`); checked against the input when the layer is built. */
  inChannels: number;
  /** Output channels (the lesson's `nf`). */
  filters: number;
  /** Convolution stride; 2 halves the image. Default 2. */
  strides?: number;
  /** Square kernel size. Default 3. Padding is always 1 pixel on every side, as in the lesson. */
  kernelSize?: number;
  /**
   * Keep exponentially weighted running statistics for inference instead of the last
   * training batch's, as PyTorch's BatchNorm2d does. Off by default: the lesson's layer
   * stores each training batch's statistics and reuses the last ones.
   */
  runningStats?: boolean;
  /**
   * Weight of each new batch in the running statistics:
   * `stat = (1 - momentum) * stat + momentum * batch`. Default 0.1, as PyTorch's.
   */
  momentum?: number;
  /** Seed for the initial convolution kernel. */
  seed?: number;
}

/**
 * The lesson's hand-written batch norm block: a convolution without bias and with padding 1,
 * ReLU, then per-channel normalisation by the batch's mean and unbiased standard deviation
 * (divisor n - 1, no epsilon), times a learnable scale `m` plus a learnable shift `a`.
 *
 * Training stores the batch's statistics in the non-trainable weights `means` and `stds`;
 * inference reuses them, so a saved model predicts as it did when saved.
 *
 * Porting note: PyTorch holds `m` and `a` as [nf, 1, 1] for NCHW; here they are [nf], which
 * broadcasts over the channel axis of NHWC.
 */
export class BnLayer extends tf.layers.Layer {
  static className = 'BnLayer';

  readonly inChannels: number;
  readonly filters: number;
  readonly strides: number;
  readonly kernelSize: number;
  readonly runningStats: boolean;
  readonly momentum: number;
  private readonly seed?: number;

  private kernel!: tf.LayerVariable; // [k, k, inChannels, filters]
  private m!: tf.LayerVariable; // [filters]
  private a!: tf.LayerVariable; // [filters]
  private means!: tf.LayerVariable; // [filters], not trained
  private stds!: tf.LayerVariable; // [filters], not trained

  constructor(args: BnLayerArgs) {
    super(args);
    checkPositiveIntegers('BnLayer', args, ['inChannels', 'filters']);
    this.inChannels = args.inChannels;
    this.filters = args.filters;
    this.strides = args.strides ?? 2;
    this.kernelSize = args.kernelSize ?? 3;
    this.runningStats = args.runningStats ?? false;
    this.momentum = args.momentum ?? 0.1;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    checkInputChannels(this.name, 'BnLayer', this.inChannels, inputShape as tf.Shape);
    const k = this.kernelSize;
    const init = torchInit(this.inChannels * k * k, seedSequence(this.seed));
    this.kernel = this.addWeight(
      'kernel',
      [k, k, this.inChannels, this.filters],
      'float32',
      init.kernelInitializer,
    );
    this.m = this.addWeight('m', [this.filters], 'float32', tf.initializers.ones());
    this.a = this.addWeight('a', [this.filters], 'float32', tf.initializers.zeros());
    this.means = this.addWeight(
      'means',
      [this.filters],
      'float32',
      tf.initializers.zeros(),
      undefined,
      false,
    );
    this.stds = this.addWeight(
      'stds',
      [this.filters],
      'float32',
      tf.initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    // Padding is always 1 pixel on every side, as in the lesson.
    return convOutputShape(inputShape as tf.Shape, {
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: 1,
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const pad: [[0, 0], [1, 1], [1, 1], [0, 0]] = [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ];
      const z = tf.conv2d(x, this.kernel.read() as tf.Tensor4D, this.strides, pad);
      if (kwargs.training) {
        // Normalised by this batch's statistics, which are stored for inference. The ReLU is
        // taken inside the normalisation, where it costs no pass over memory of its own.
        return bnNormalize(
          z,
          this.m.read() as tf.Tensor1D,
          this.a.read() as tf.Tensor1D,
          (mean, std) => this.storeStatistics(mean, std),
          true,
        );
      }
      const y = tf.relu(z);
      const mean = this.means.read();
      const std = this.stds.read();
      // Inference: (y - mean) / std * m + a with the stored statistics, folded into one scale
      // and one shift per channel.
      const scale = tf.div(this.m.read(), std);
      const shift = tf.sub(this.a.read(), tf.mul(mean, scale));
      return tf.add(tf.mul(y, scale), shift);
    });
  }

  private storeStatistics(mean: tf.Tensor, std: tf.Tensor): void {
    // Variable writes are not recorded by the gradient tape: the statistics are data.
    const [m, s] = [mean, std];
    if (this.runningStats) {
      const keep = 1 - this.momentum;
      this.means.write(tf.add(tf.mul(this.means.read(), keep), tf.mul(m, this.momentum)));
      this.stds.write(tf.add(tf.mul(this.stds.read(), keep), tf.mul(s, this.momentum)));
    } else {
      this.means.write(m);
      this.stds.write(s);
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      inChannels: this.inChannels,
      filters: this.filters,
      strides: this.strides,
      kernelSize: this.kernelSize,
      runningStats: this.runningStats,
      momentum: this.momentum,
    };
  }
}
tf.serialization.registerClass(BnLayer);

/** The lesson's `BnLayer(ni, nf, stride=2, kernel_size=3)`. */
export function bnLayer(
  ni: number,
  nf: number,
  stride = 2,
  kernelSize = 3,
  args: Partial<BnLayerArgs> = {},
): BnLayer {
  return new BnLayer({ ...args, inChannels: ni, filters: nf, strides: stride, kernelSize });
}
