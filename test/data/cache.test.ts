import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { CACHE_FORMAT_VERSION, readCache, writeCache } from '../../src/data/cache';
import { DataError } from '../../src/data/errors';
import { listFiles, makeTempDir, removeTempDir, syntheticSplit } from '../helpers/dataFixtures';

describe('cache files', () => {
  let dir: string;
  before(() => {
    dir = makeTempDir();
  });
  after(() => removeTempDir(dir));

  const classes = ['airplane', 'cat', 'dog'];
  const split = syntheticSplit(5, 3, 4);

  it('round-trips pixels, labels and classes, leaving only the cache file', async () => {
    const file = path.join(dir, 'roundtrip.bin');
    await writeCache(file, classes, split);
    assert.deepEqual(listFiles(dir), ['roundtrip.bin']);
    const read = await readCache(file);
    assert.ok(read.ok);
    assert.deepEqual(read.classes, classes);
    assert.equal(read.split.count, 5);
    assert.deepEqual(read.split.labels, split.labels);
    assert.deepEqual(read.split.images, split.images);
    const header = readFileSync(file).subarray(0, 300).toString('latin1');
    assert.match(header, /^CIFARNET/);
    assert.match(header, /"shape":\[5,32,32,3\]/);
    assert.match(header, /"checksum":"sha256:[0-9a-f]{64}"/);
  });

  it('says "missing" for no file', async () => {
    const read = await readCache(path.join(dir, 'nothing.bin'));
    assert.deepEqual(read.ok ? 'ok' : read.reason, 'missing');
  });

  it('says "corrupt" for a flipped pixel, a cut file or a foreign file', async () => {
    const file = path.join(dir, 'corrupt.bin');
    await writeCache(file, classes, split);
    const bytes = readFileSync(file);
    const cases: [string, Buffer, RegExp][] = [
      [
        'flipped pixel',
        Buffer.from(bytes).fill(7, bytes.length - 10, bytes.length - 9),
        /checksum/,
      ],
      ['cut', bytes.subarray(0, bytes.length - 100), /bytes long, expected/],
      ['foreign', Buffer.from('hello, not a cache'), /magic/],
      ['bad header', Buffer.concat([bytes.subarray(0, 16), Buffer.from('{nope')]), /JSON/],
    ];
    for (const [name, content, detail] of cases) {
      writeFileSync(file, content);
      const read = await readCache(file);
      assert.equal(read.ok, false, name);
      if (!read.ok) {
        assert.equal(read.reason, 'corrupt', name);
        assert.match(read.detail, detail, name);
      }
    }
  });

  it('says "old-format" for a file from another format version', async () => {
    const file = path.join(dir, 'old.bin');
    await writeCache(file, classes, split);
    const bytes = readFileSync(file);
    bytes.writeUInt32LE(CACHE_FORMAT_VERSION - 1, 8);
    writeFileSync(file, bytes);
    const read = await readCache(file);
    assert.equal(read.ok ? 'ok' : read.reason, 'old-format');
  });

  it('throws a DataError naming the file when it cannot write, leaving no temporary', async () => {
    const blocked = path.join(dir, 'blocked');
    mkdirSync(blocked);
    writeFileSync(path.join(blocked, 'file'), '');
    const file = path.join(blocked, 'file', 'train.bin'); // under a file: cannot be created
    await assert.rejects(writeCache(file, classes, split), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.equal(error.source, file);
      assert.match(error.message, /Expected to write the cache file .*--cache-dir/);
      return true;
    });
    assert.deepEqual(listFiles(blocked), ['file']);
  });
});
