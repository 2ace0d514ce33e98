import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { KERNEL_BUILDS } from '../../src/backend/kernelBuilds';
import { buildKernels, DEFAULT_CLANG, KERNEL_SOURCE_DIR } from '../../scripts/buildKernels';

const clang = process.env.CLANG ?? DEFAULT_CLANG;

function installed(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = (command: string) =>
  !installed(command) && `${command} is not installed (.ci/run installs it)`;

describe('the committed wasm kernels', () => {
  it('are what their C sources compile to', { skip: missing(clang) }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-nets-kernels-'));
    try {
      buildKernels(dir, clang);
      for (const build of KERNEL_BUILDS) {
        const fresh = fs.readFileSync(path.join(dir, build.file));
        const committed = fs.readFileSync(path.join(KERNEL_SOURCE_DIR, build.file));
        assert.ok(
          fresh.equals(committed),
          `${build.file} differs from a fresh build of its sources: run npm run build:kernels`,
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'never touch the C stack pointer, which would put a stack in the backend heap',
    {
      skip: missing('wasm-objdump'),
    },
    () => {
      for (const build of KERNEL_BUILDS) {
        const file = path.join(KERNEL_SOURCE_DIR, build.file);
        const code = execFileSync('wasm-objdump', ['-d', file], { encoding: 'utf8' });
        assert.ok(code.includes('f32x4'), `${build.file}: expected SIMD code in the disassembly`);
        assert.ok(
          !/global\.(get|set)/.test(code),
          `${build.file} uses a global (the stack pointer)`,
        );
      }
    },
  );

  it('bring no data into the memory they share with the backend', () => {
    // A data segment would overwrite part of the backend's heap when instantiated.
    for (const build of KERNEL_BUILDS) {
      const bytes = fs.readFileSync(path.join(KERNEL_SOURCE_DIR, build.file));
      const sections = wasmSections(bytes);
      assert.ok(!sections.has(11), `${build.file} has a data section`);
      assert.ok(!sections.has(12), `${build.file} has a data count section`);
      const imports = sections.get(2);
      assert.ok(imports !== undefined, `${build.file} imports nothing`);
    }
  });
});

/** Section id -> contents of a wasm binary. */
function wasmSections(bytes: Buffer): Map<number, Buffer> {
  assert.equal(bytes.readUInt32LE(0), 0x6d736100, 'wasm magic');
  const sections = new Map<number, Buffer>();
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++];
      size |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
    }
    sections.set(id, bytes.subarray(at, at + size));
    at += size;
  }
  return sections;
}
