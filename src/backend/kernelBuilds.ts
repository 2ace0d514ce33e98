/** The C sources in ./kernels that make up the wasm module, compiled together. */
export const KERNEL_SOURCES = ['conv.c', 'channels.c'] as const;

/** The builds of the module, each a binary beside its sources (see scripts/buildKernels.ts). */
export interface KernelBuild {
  file: string;
  /** Fused multiply-add from the relaxed SIMD proposal. */
  relaxed: boolean;
  /** Imports a shared memory, as the threaded wasm backend has. */
  shared: boolean;
}

export const KERNEL_BUILDS: readonly KernelBuild[] = [
  { file: 'kernels-simd.wasm', relaxed: false, shared: false },
  { file: 'kernels-simd-shared.wasm', relaxed: false, shared: true },
  { file: 'kernels-relaxed.wasm', relaxed: true, shared: false },
  { file: 'kernels-relaxed-shared.wasm', relaxed: true, shared: true },
];
