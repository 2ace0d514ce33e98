// Atomic writes: readers see the old contents or the new, and a failure leaves no temporary
// files and no change behind.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { replaceFolderAtomic, writeAndSync, writeFileAtomic } from '../../src/learner/atomicWrite';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cifar-nets-atomic-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates, then replaces, a file and leaves nothing else', async () => {
    const file = path.join(root, 'plot.svg');
    await writeFileAtomic(file, 'first');
    await writeFileAtomic(file, new TextEncoder().encode('second'));
    assert.equal(await fs.readFile(file, 'utf8'), 'second');
    assert.deepEqual(await fs.readdir(root), ['plot.svg']);
    await fs.rm(file);
  });

  it('fails without a trace when the folder does not exist', async () => {
    await assert.rejects(writeFileAtomic(path.join(root, 'missing', 'x.txt'), 'x'), {
      code: 'ENOENT',
    });
    assert.deepEqual(await fs.readdir(root), []);
  });
});

describe('replaceFolderAtomic', () => {
  it('replaces a folder whole', async () => {
    const dir = path.join(root, 'save');
    await replaceFolderAtomic(dir, (t) => writeAndSync(path.join(t, 'a'), '1'));
    await replaceFolderAtomic(dir, (t) => writeAndSync(path.join(t, 'b'), '2'));
    assert.deepEqual(await fs.readdir(dir), ['b']);
    assert.deepEqual(await fs.readdir(root), ['save']);
    await fs.rm(dir, { recursive: true });
  });

  it('keeps the old folder when filling the new one fails', async () => {
    const dir = path.join(root, 'keep');
    await replaceFolderAtomic(dir, (t) => writeAndSync(path.join(t, 'old'), 'old'));
    await assert.rejects(
      replaceFolderAtomic(dir, async (t) => {
        await writeAndSync(path.join(t, 'new'), 'half');
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.deepEqual(await fs.readdir(dir), ['old']);
    assert.deepEqual(await fs.readdir(root), ['keep']);
    await fs.rm(dir, { recursive: true });
  });

  it('refuses to replace a file with a folder', async () => {
    const file = path.join(root, 'notes.txt');
    await fs.writeFile(file, 'mine');
    await assert.rejects(
      replaceFolderAtomic(file, async () => {}),
      { code: 'ENOTDIR' },
    );
    assert.equal(await fs.readFile(file, 'utf8'), 'mine');
    assert.deepEqual(await fs.readdir(root), ['notes.txt']);
  });
});
