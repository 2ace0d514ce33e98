import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { decodeArchive, decodeFolder } from '../../src/data/decode';
import { DataError } from '../../src/data/errors';
import {
  encodePng,
  fixtureImage,
  makeCifarFolder,
  makeTempDir,
  packTgz,
  rawTgz,
  removeTempDir,
} from '../helpers/dataFixtures';

/** Asserts a DataError whose message matches every pattern and whose source matches `source`. */
function dataError(source: RegExp, ...patterns: RegExp[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.match(error.source, source);
    for (const p of patterns) assert.match(error.message, p);
    return true;
  };
}

// One temporary folder for both suites; every test writes under a name of its own.
let dir: string;
before(() => {
  dir = makeTempDir();
});
after(() => removeTempDir(dir));

describe('decodeFolder', () => {
  it('reads the cifar.tgz layout: sorted classes, exact pixels, numeric order', async () => {
    const set = makeCifarFolder(path.join(dir, 'flat', 'cifar'));
    const data = await decodeFolder(path.join(dir, 'flat')); // finds cifar/ inside
    assert.deepEqual(data.classes, ['airplane', 'cat', 'dog']);
    assert.deepEqual(data, set.expected);
  });

  it('reads the class-folder layout, with classes from the folder names', async () => {
    const set = makeCifarFolder(path.join(dir, 'folders'), { layout: 'folders' });
    const data = await decodeFolder(set.root);
    assert.deepEqual(data, set.expected);
  });

  it('reports progress in images', async () => {
    const set = makeCifarFolder(path.join(dir, 'progress'));
    const events: number[] = [];
    await decodeFolder(set.root, { onProgress: (e) => events.push(e.done / (e.total ?? 0)) });
    assert.equal(events.at(-1), 1);
  });

  it('refuses a folder without train/ and test/', async () => {
    mkdirSync(path.join(dir, 'nosplits', 'train'), { recursive: true });
    await assert.rejects(
      decodeFolder(path.join(dir, 'nosplits')),
      dataError(/nosplits$/, /Expected .*nosplits to hold train\/ and test\//, /--data/),
    );
  });

  it('refuses an empty split', async () => {
    const set = makeCifarFolder(path.join(dir, 'empty'));
    rmSync(path.join(set.root, 'test'), { recursive: true });
    mkdirSync(path.join(set.root, 'test'));
    await assert.rejects(
      decodeFolder(set.root),
      dataError(/empty[/\\]test/, /Expected PNG images in .*test.*but found none/),
    );
  });

  it('refuses a label that is not a known class, naming the file', async () => {
    const set = makeCifarFolder(path.join(dir, 'badlabel'));
    renameSync(
      path.join(set.root, 'train', '2_cat.png'),
      path.join(set.root, 'train', '2_cta.png'),
    );
    await assert.rejects(
      decodeFolder(set.root),
      dataError(/2_cta\.png$/, /one of the classes \(airplane, cat, dog\), but got 'cta'/),
    );
  });

  it('refuses a corrupt PNG, naming the file', async () => {
    const set = makeCifarFolder(path.join(dir, 'corrupt'));
    const file = path.join(set.root, 'test', '10_dog.png');
    writeFileSync(file, encodePng(fixtureImage(1)).subarray(0, 60));
    await assert.rejects(
      decodeFolder(set.root),
      dataError(/10_dog\.png$/, /to be a PNG image, but decoding it failed/, /damaged/),
    );
  });

  it('refuses images that are not 32x32 RGB', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['small', encodePng(fixtureImage(1), { width: 16, height: 16 }), /it is 16x16 colour/],
      ['grey', encodePng(fixtureImage(1), { colorType: 0 }), /32x32 greyscale/],
      ['rgba', encodePng(fixtureImage(1), { colorType: 6 }), /32x32 colour with alpha/],
    ];
    for (const [name, png, found] of cases) {
      const set = makeCifarFolder(path.join(dir, `shape-${name}`));
      writeFileSync(path.join(set.root, 'train', '18_cat.png'), png);
      await assert.rejects(
        decodeFolder(set.root),
        dataError(/18_cat\.png$/, /Expected .* to be a 32x32 RGB image/, found),
      );
    }
  });

  it('refuses a file name that is not <n>_<label>.png, and mixed layouts', async () => {
    const set = makeCifarFolder(path.join(dir, 'names'));
    writeFileSync(path.join(set.root, 'train', 'cat.png'), encodePng(fixtureImage(1)));
    await assert.rejects(decodeFolder(set.root), dataError(/cat\.png$/, /<n>_<label>\.png/));
    rmSync(path.join(set.root, 'train', 'cat.png'));
    mkdirSync(path.join(set.root, 'train', 'cat'));
    writeFileSync(path.join(set.root, 'train', 'cat', '1.png'), encodePng(fixtureImage(1)));
    await assert.rejects(decodeFolder(set.root), dataError(/train/, /to use one layout/));
  });
});

describe('decodeArchive', () => {
  it('decodes a .tgz packed by tar to what the folder holds, without unpacking it', async () => {
    const set = makeCifarFolder(path.join(dir, 'src', 'cifar'));
    const file = path.join(dir, 'cifar.tgz');
    await packTgz(file, path.join(dir, 'src'), ['cifar']);
    const events: number[] = [];
    const data = await decodeArchive(file, { onProgress: (e) => events.push(e.done) });
    assert.deepEqual(data, set.expected);
    assert.ok(events.length > 0);
  });

  it('decodes an archive with train/ and test/ at the top', async () => {
    const set = makeCifarFolder(path.join(dir, 'top'), { layout: 'folders' });
    const file = path.join(dir, 'top.tgz');
    await packTgz(file, set.root, ['train', 'test']);
    assert.deepEqual(await decodeArchive(file), set.expected);
  });

  it('names files inside the archive as <archive>:<path>', async () => {
    const set = makeCifarFolder(path.join(dir, 'bad', 'cifar'));
    writeFileSync(path.join(set.root, 'train', '10_cat.png'), 'not a png');
    const file = path.join(dir, 'bad.tgz');
    await packTgz(file, path.join(dir, 'bad'), ['cifar']);
    await assert.rejects(
      decodeArchive(file),
      dataError(/bad\.tgz:cifar\/train\/10_cat\.png$/, /to be a PNG image/),
    );
  });

  it('refuses an archive without train/ and test/', async () => {
    const none = path.join(dir, 'none.tgz');
    writeFileSync(none, rawTgz([{ path: 'cifar/labels.txt', body: 'cat\n' }]));
    await assert.rejects(
      decodeArchive(none),
      dataError(/none\.tgz$/, /to hold train\/ and test\/ folders .* but found none/),
    );
    const file = path.join(dir, 'nosplit.tgz');
    writeFileSync(
      file,
      rawTgz([{ path: 'cifar/train/1_cat.png', body: encodePng(fixtureImage(1)) }]),
    );
    await assert.rejects(
      decodeArchive(file),
      dataError(/nosplit\.tgz:cifar\/test\/$/, /Expected PNG images in .*but found none/),
    );
  });

  it('refuses unsafe entries even though it writes nothing', async () => {
    const file = path.join(dir, 'unsafe.tgz');
    writeFileSync(file, rawTgz([{ path: '../evil.png', body: 'x' }]));
    await assert.rejects(decodeArchive(file), dataError(/unsafe\.tgz$/, /Refused .*'\.\.'/));
  });

  it('refuses a truncated archive and a file that is not gzip', async () => {
    makeCifarFolder(path.join(dir, 'trunc', 'cifar'));
    const file = path.join(dir, 'trunc.tgz');
    await packTgz(file, path.join(dir, 'trunc'), ['cifar']);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(decodeArchive(file), dataError(/trunc\.tgz$/, /truncated or not a \.tgz/));
    writeFileSync(file, '<!DOCTYPE html><html><head></head></html>');
    await assert.rejects(decodeArchive(file), dataError(/trunc\.tgz$/, /HTML page/));
  });
});
