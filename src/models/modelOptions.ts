/** Options every model factory takes besides the lesson's own arguments. */
export interface ModelOptions {
  /** Seed for the initial weights; without it each model starts from fresh random weights. */
  seed?: number;
  /** Image shape [height, width, channels] the model takes. Default [32, 32, 3], CIFAR-10's. */
  inputShape?: [number, number, number];
}

export const CIFAR_INPUT_SHAPE: [number, number, number] = [32, 32, 3];
