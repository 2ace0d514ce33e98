export { BnLayer, bnLayer, type BnLayerArgs } from './BnLayer';
export { ConvBnNet, ConvBnNet2 } from './ConvBnNet';
export { Conv2d, type Conv2dArgs } from './Conv2d';
export { ConvNet } from './ConvNet';
export { ConvLayer, ConvNet2 } from './ConvNet2';
export { GlobalMaxPool, globalMaxPool2d } from './GlobalMaxPool';
export { LogSoftmax, logSoftmax } from './LogSoftmax';
export type { ModelOptions } from './modelOptions';
export {
  createModel,
  MODEL_NAMES,
  MODELS,
  parseModelName,
  UnknownModelError,
  type ModelEntry,
  type ModelName,
} from './registry';
export { SimpleNet } from './SimpleNet';
export {
  loadTorchState,
  torchWeightRefs,
  type TorchTensor,
  type TorchWeightRef,
} from './torchState';
