// Compiles the C sources in src/backend/kernels into the four wasm binaries the wasm backend loads:
// SIMD or relaxed SIMD (fused multiply-add), on a plain or a shared (threaded) memory.
// Needs clang and wasm-ld 16 or newer: `apt-get install clang-16 lld-16` on Debian 12, or
// set CLANG to another clang. The binaries are committed, so that installing the package needs
// no compiler; test/backend/kernelBuild.test.ts checks that they are these sources'.
//
//   node dist/scripts/buildKernels.js [outDir]     (default: src/backend/kernels)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KERNEL_BUILDS, KERNEL_SOURCES } from '../src/backend/kernelBuilds';

export const KERNEL_SOURCE_DIR = path.resolve(__dirname, '..', '..', 'src', 'backend', 'kernels');
export const DEFAULT_CLANG = 'clang-16';

/** Builds every binary into `outDir`, each written to a temporary file and then renamed. */
export function buildKernels(outDir: string, clang = process.env.CLANG ?? DEFAULT_CLANG): string[] {
  const written: string[] = [];
  for (const build of KERNEL_BUILDS) {
    const out = path.join(outDir, build.file);
    const partial = `${out}.${process.pid}.tmp`;
    const args = [
      '--target=wasm32',
      '-O3',
      '-msimd128',
      '-mbulk-memory',
      ...(build.relaxed ? ['-mrelaxed-simd', '-DRELAXED'] : []),
      ...(build.shared ? ['-matomics', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296'] : []),
      '-nostdlib',
      '-Wl,--no-entry',
      '-Wl,--import-memory',
      '-Wl,--strip-all',
      '-o',
      partial,
      ...KERNEL_SOURCES.map((source) => path.join(KERNEL_SOURCE_DIR, source)),
    ];
    try {
      execFileSync(clang, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      fs.rmSync(partial, { force: true });
      throw new Error(
        `${clang} failed to build ${build.file}: ${(err as Error).message.split('\n')[0]}. ` +
          'Install clang and lld 16 or newer (Debian 12: apt-get install clang-16 lld-16), or ' +
          'set CLANG to a clang that targets wasm32.',
      );
    }
    fs.renameSync(partial, out);
    written.push(out);
  }
  return written;
}

if (require.main === module) {
  const outDir = path.resolve(process.argv[2] ?? KERNEL_SOURCE_DIR);
  for (const file of buildKernels(outDir)) {
    process.stdout.write(`${path.relative(process.cwd(), file)}\n`);
  }
}
