/** The builds of ./kernels/conv.c, each a binary beside it (see scripts/buildKernels.ts). */
export interface KernelBuild {
  file: string;
  /** Fused multiply-add from the relaxed SIMD proposal. */
  relaxed: boolean;
  /** Imports a shared memory, as the threaded wasm backend has. */
  shared: boolean;
}

export const KERNEL_BUILDS: readonly KernelBuild[] = [
  { file: 'conv-simd.wasm', relaxed: false, shared: false },
  { file: 'conv-simd-shared.wasm', relaxed: false, shared: true },
  { file: 'conv-relaxed.wasm', relaxed: true, shared: false },
  { file: 'conv-relaxed-shared.wasm', relaxed: true, shared: true },
];
