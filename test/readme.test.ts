// The README's TypeScript example compiles against the package's own exports and type
// declarations, and runs: it trains ConvBnNet on a tiny archive and saves it.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { makeCifarArchive } from './helpers/cifarArchive';

const ROOT = path.resolve(__dirname, '..', '..');

it("README's example compiles with the package's types and trains on a tiny archive", async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const example = /## Using it from another Node project[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(
    example,
    'the README has a TypeScript example under "Using it from another Node project"',
  );
  // Inside the package folder, `import ... from 'cifar-nets'` resolves to the package itself
  // through its "exports", as it would from node_modules in another project.
  const dir = fs.mkdtempSync(path.join(ROOT, '.readme-example-'));
  const cleanup = [dir];
  try {
    fs.writeFileSync(path.join(dir, 'train.ts'), example[1]);
    const tsc = require.resolve('typescript/bin/tsc');
    execFileSync(
      process.execPath,
      [
        tsc,
        '--strict',
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        '--target',
        'ES2022',
        '--skipLibCheck',
        '--rootDir',
        dir,
        '--outDir',
        dir,
        path.join(dir, 'train.ts'),
      ],
      { stdio: 'pipe' },
    );
    const archive = await makeCifarArchive(2, 1);
    cleanup.push(path.dirname(archive));
    execFileSync(process.execPath, [path.join(dir, 'train.js'), archive], {
      cwd: dir,
      env: { ...process.env, CIFAR_NETS_CACHE: path.join(dir, 'cache') },
      stdio: 'pipe',
    });
    const saved = path.join(dir, 'convbn-model');
    assert.ok(fs.existsSync(path.join(saved, 'model.json')), 'the example saved its model');
    assert.ok(fs.existsSync(path.join(saved, 'weights.bin')));
  } finally {
    for (const folder of cleanup) fs.rmSync(folder, { recursive: true, force: true });
  }
});
