export * from './selectBackend';
export { registerWasmKernels } from './wasmKernels';
export { WasmConvError } from './wasmConv';
