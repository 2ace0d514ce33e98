export * from './selectBackend';
export { registerWasmGradientKernels } from './wasmGradients';
