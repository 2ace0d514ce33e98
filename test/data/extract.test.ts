import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DataError } from '../../src/data/errors';
import { extractArchive, listArchive, unsafeEntryReason } from '../../src/data/extract';
import {
  listFiles,
  makeTempDir,
  rawTgz,
  removeTempDir,
  type RawEntry,
} from '../helpers/dataFixtures';

describe('extractArchive (safe untar)', () => {
  let dir: string;
  before(() => {
    dir = makeTempDir();
  });
  after(() => removeTempDir(dir));

  const good: RawEntry[] = [
    { path: 'cifar/', type: 'Directory' },
    { path: 'cifar/labels.txt', body: 'cat\ndog\n' },
    { path: 'cifar/train/1_cat.png', body: 'png bytes' },
  ];

  it('unpacks files and folders into the target', async () => {
    const file = path.join(dir, 'good.tgz');
    writeFileSync(file, rawTgz(good));
    const target = path.join(dir, 'out-good');
    await extractArchive(file, target);
    assert.deepEqual(listFiles(target), ['cifar/labels.txt', 'cifar/train/1_cat.png']);
    assert.equal(readFileSync(path.join(target, 'cifar/labels.txt'), 'utf8'), 'cat\ndog\n');
    assert.deepEqual(
      await listArchive(file),
      good.map((e) => e.path),
    );
  });

  const unsafe: [string, RawEntry, RegExp][] = [
    ['a .. path', { path: 'cifar/../../escaped.txt', body: 'x' }, /contains '\.\.'/],
    ['an absolute path', { path: '/tmp/cifar-nets-escaped.txt', body: 'x' }, /absolute/],
    ['a symlink', { path: 'cifar/link', type: 'SymbolicLink', linkpath: '/etc' }, /SymbolicLink/],
    ['a hard link', { path: 'cifar/hard', type: 'Link', linkpath: 'cifar/labels.txt' }, /Link/],
  ];
  for (const [name, entry, reason] of unsafe) {
    it(`refuses the whole archive for ${name}, leaving nothing behind`, async () => {
      const file = path.join(dir, 'unsafe.tgz');
      writeFileSync(file, rawTgz([...good, entry, { path: 'cifar/after.txt', body: 'y' }]));
      const target = path.join(dir, 'out-unsafe');
      const check = (error: unknown): boolean => {
        assert.ok(error instanceof DataError);
        assert.equal(error.source, file);
        assert.match(error.message, /Refused to unpack .*unsafe\.tgz/);
        assert.match(error.message, reason);
        return true;
      };
      await assert.rejects(extractArchive(file, target), check);
      assert.equal(existsSync(target), false, 'target removed');
      assert.equal(existsSync('/tmp/cifar-nets-escaped.txt'), false);
      assert.equal(existsSync(path.join(dir, '..', 'escaped.txt')), false);
      await assert.rejects(listArchive(file), check);
    });
  }

  it('refuses a truncated archive, a non-gzip file, an HTML page and an empty file', async () => {
    const bytes = rawTgz([...good, { path: 'cifar/big.bin', body: Buffer.alloc(200_000, 7) }]);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', bytes.subarray(0, bytes.length - 40), /truncated or not a \.tgz/],
      ['plain', Buffer.from('just text, no archive'), /starts with bytes 6a 75 73 74/],
      ['html', Buffer.from('\n<!doctype html>\n<html><body>Sign in</body></html>'), /HTML page/],
      ['empty', Buffer.alloc(0), /it is empty/],
    ];
    for (const [name, content, found] of cases) {
      const file = path.join(dir, `${name}.tgz`);
      writeFileSync(file, content);
      const target = path.join(dir, `out-${name}`);
      await assert.rejects(extractArchive(file, target), (error: unknown) => {
        assert.ok(error instanceof DataError, name);
        assert.match(error.message, new RegExp(`Expected .*${name}\\.tgz to be a gzip`), name);
        assert.match(error.message, found, name);
        return true;
      });
      assert.equal(existsSync(target), false, `${name}: target removed`);
    }
  });

  it('says a missing archive does not exist', async () => {
    await assert.rejects(
      listArchive(path.join(dir, 'missing.tgz')),
      /Expected to read the archive .*missing\.tgz, but got ENOENT/,
    );
  });
});

describe('unsafeEntryReason', () => {
  it('passes plain relative files and folders', () => {
    assert.equal(unsafeEntryReason('cifar/train/1_cat.png', 'File'), undefined);
    assert.equal(unsafeEntryReason('cifar/', 'Directory'), undefined);
    assert.equal(unsafeEntryReason('cifar/a..b.png', 'File'), undefined);
  });

  it('names what is wrong', () => {
    assert.match(String(unsafeEntryReason('a/../b', 'File')), /'\.\.'/);
    assert.match(String(unsafeEntryReason('C:\\x', 'File')), /absolute/);
    assert.match(String(unsafeEntryReason('a\\..\\b', 'File')), /'\.\.'/);
    assert.match(String(unsafeEntryReason('dev', 'CharacterDevice')), /CharacterDevice/);
  });
});
