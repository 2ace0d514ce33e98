export * from './selectBackend';
export { registerWasmKernels } from './wasmKernels';
export { WasmKernelError } from './wasmModule';
