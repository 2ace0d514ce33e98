import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DataError } from '../../src/data/errors';
import { loadCifar, resolveCacheDir, type LoadCifarOptions } from '../../src/data/source';
import {
  encodePng,
  fixtureImage,
  listFiles,
  makeCifarFolder,
  makeTempDir,
  packTgz,
  rawTgz,
  removeTempDir,
  type FixtureSet,
  type RawEntry,
} from '../helpers/dataFixtures';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopbackServer';

describe('loadCifar', () => {
  let dir: string;
  let set: FixtureSet;
  let archive: string;
  /** Archives the server offers, by URL path. */
  const served = new Map<string, { body: Buffer; type?: string; cut?: boolean }>();
  let hits = 0;
  let server: LoopbackServer;
  let base: string;

  before(async () => {
    dir = makeTempDir();
    set = makeCifarFolder(path.join(dir, 'src', 'cifar'));
    archive = path.join(dir, 'cifar.tgz');
    await packTgz(archive, path.join(dir, 'src'), ['cifar']);
    served.set('/cifar.tgz', { body: readFileSync(archive) });
    server = await startLoopbackServer((req, res) => {
      hits++;
      const item = served.get(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(301, { location: '/cifar.tgz' });
        return res.end();
      }
      if (item === undefined) {
        res.writeHead(404);
        return res.end();
      }
      const { body, type, cut } = item;
      res.writeHead(200, {
        'content-type': type ?? 'application/gzip',
        'content-length': body.length,
      });
      if (!cut) return res.end(body);
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 10));
    });
    base = server.base;
  });
  after(async () => {
    await server.close();
    removeTempDir(dir);
  });

  /** loadCifar with a fresh cache folder, notes collected instead of printed. */
  function options(cacheName: string, data: string, notes: string[] = []): LoadCifarOptions {
    return {
      data,
      cacheDir: path.join(dir, cacheName),
      log: (line) => notes.push(line),
      onProgress: () => {},
    };
  }

  it('downloads, decodes and caches from a URL; the next run needs no network', async () => {
    const notes: string[] = [];
    const url = `${base}/redirect`;
    hits = 0;
    assert.deepEqual(await loadCifar(options('url-cache', url, notes)), set.expected);
    assert.equal(hits, 2, 'a redirect, then the file');
    assert.match(notes.join('\n'), /Downloading .*\/redirect/);
    const files = listFiles(path.join(dir, 'url-cache'));
    assert.equal(files.length, 3);
    assert.match(files[0], /^decoded\/[0-9a-f]{16}\/test\.bin$/);
    assert.match(files[1], /^decoded\/[0-9a-f]{16}\/train\.bin$/);
    assert.match(files[2], /^downloads\/[0-9a-f]{16}-cifar\.tgz$/);
    const again: string[] = [];
    assert.deepEqual(await loadCifar(options('url-cache', url, again)), set.expected);
    assert.equal(hits, 2, 'no request the second time');
    assert.deepEqual(again, []);
  });

  it('reads a .tgz path and an extracted folder, each under its own cache key', async () => {
    const cache = path.join(dir, 'shared-cache');
    const fromArchive = await loadCifar({ ...options('', archive), cacheDir: cache });
    const fromFolder = await loadCifar({ ...options('', path.join(dir, 'src')), cacheDir: cache });
    assert.deepEqual(fromArchive, set.expected);
    assert.deepEqual(fromFolder, set.expected);
    assert.equal(listFiles(path.join(cache, 'decoded')).length, 4, 'two keys, two splits each');
  });

  it('does not mix up two archives at the same path', async () => {
    const other = makeCifarFolder(path.join(dir, 'other', 'cifar'), { classes: ['ship', 'truck'] });
    const file = path.join(dir, 'changing.tgz');
    await packTgz(file, path.join(dir, 'src'), ['cifar']);
    assert.deepEqual(await loadCifar(options('changing-cache', file)), set.expected);
    await packTgz(file, path.join(dir, 'other'), ['cifar']);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.deepEqual(await loadCifar(options('changing-cache', file)), other.expected);
  });

  it('rebuilds a damaged cache file and one from an older format, with a note', async () => {
    const cache = path.join(dir, 'damaged-cache');
    await loadCifar(options('damaged-cache', archive));
    const train = path.join(cache, listFiles(cache).find((f) => f.endsWith('train.bin')) ?? '');
    const bytes = readFileSync(train);
    writeFileSync(train, bytes.subarray(0, bytes.length - 1));
    const notes: string[] = [];
    assert.deepEqual(await loadCifar(options('damaged-cache', archive, notes)), set.expected);
    assert.match(notes.join('\n'), /Note: the cache file .*train\.bin is damaged .*; rebuilding/);
    const old = readFileSync(train);
    old.writeUInt32LE(0, 8);
    writeFileSync(train, old);
    notes.length = 0;
    assert.deepEqual(await loadCifar(options('damaged-cache', archive, notes)), set.expected);
    assert.match(notes.join('\n'), /is from an older format \(format version 0/);
    assert.deepEqual(
      await loadCifar(options('damaged-cache', archive, ((notes.length = 0), notes))),
      set.expected,
    );
    assert.deepEqual(notes, [], 'rebuilt: the third run reads it quietly');
  });

  it('removes partial files left by a run that was killed', async () => {
    const cache = path.join(dir, 'killed-cache');
    await loadCifar(options('killed-cache', `${base}/cifar.tgz`));
    const downloads = path.join(cache, 'downloads');
    mkdirSync(downloads, { recursive: true });
    // pid 2^22 + 1 is above Linux's pid_max default: no such process is running.
    const stale = path.join(downloads, `x-cifar.tgz.${2 ** 22 + 1}-0123abcd.part`);
    const live = path.join(downloads, `y-cifar.tgz.${process.pid}-0123abcd.part`);
    writeFileSync(stale, 'half');
    writeFileSync(live, 'in progress');
    await loadCifar(options('killed-cache', `${base}/cifar.tgz`));
    const left = listFiles(downloads);
    assert.ok(!left.some((f) => f.startsWith('x-')), 'stale part removed');
    assert.ok(
      left.some((f) => f.startsWith('y-')),
      "a live process's part kept",
    );
  });

  it('says when the cache folder cannot be written, and how to choose another', async () => {
    writeFileSync(path.join(dir, 'not-a-folder'), '');
    const cacheDir = path.join(dir, 'not-a-folder', 'cache');
    await assert.rejects(loadCifar({ ...options('', archive), cacheDir }), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.equal(error.source, cacheDir);
      assert.match(
        error.message,
        /Expected to write to the cache folder .*--cache-dir .*CIFAR_NETS_CACHE/,
      );
      return true;
    });
  });

  it('refuses a --data that is neither URL, file nor folder', async () => {
    await assert.rejects(
      loadCifar(options('nope-cache', path.join(dir, 'nope.tgz'))),
      /Expected --data to be an http\(s\) URL, a \.tgz file or a folder, but .*nope\.tgz does not/,
    );
    await assert.rejects(loadCifar(options('nope-cache', 'ftp://host/cifar.tgz')), DataError);
  });

  describe('bad downloads: a clear error naming the URL, and an empty cache after', () => {
    const png = encodePng(fixtureImage(1));
    const entries = (extra: RawEntry[]): RawEntry[] => [
      { path: 'cifar/labels.txt', body: 'cat\ndog\n' },
      { path: 'cifar/train/1_cat.png', body: png },
      { path: 'cifar/test/2_dog.png', body: png },
      ...extra,
    ];
    const cases: [string, { body: Buffer; type?: string; cut?: boolean } | undefined, RegExp][] = [
      ['404', undefined, /answered 404/],
      ['html', { body: Buffer.from('<html>login</html>'), type: 'text/html' }, /HTML page/],
      ['html-as-gzip', { body: Buffer.from('<!DOCTYPE html><html>') }, /it is an HTML page/],
      ['cut', { body: rawTgz(entries([])), cut: true }, /connection closed after/],
      ['truncated', { body: rawTgz(entries([])).subarray(0, 60) }, /truncated or not a \.tgz/],
      [
        'no-splits',
        { body: rawTgz([{ path: 'cifar/labels.txt', body: 'cat' }]) },
        /train\/ and test\//,
      ],
      [
        'bad-label',
        { body: rawTgz(entries([{ path: 'cifar/train/3_cow.png', body: png }])) },
        /cifar\/train\/3_cow\.png.*but got 'cow'/,
      ],
      [
        'corrupt-png',
        { body: rawTgz(entries([{ path: 'cifar/train/3_cat.png', body: 'zz' }])) },
        /3_cat\.png to be a PNG image/,
      ],
      [
        'not-32x32',
        {
          body: rawTgz(
            entries([
              {
                path: 'cifar/test/4_cat.png',
                body: encodePng(fixtureImage(1), { width: 8, height: 8 }),
              },
            ]),
          ),
        },
        /to be a 32x32 RGB image, but it is 8x8/,
      ],
      [
        'empty-split',
        {
          body: rawTgz([
            { path: 'cifar/train/1_cat.png', body: png },
            { path: 'cifar/test/', type: 'Directory' },
          ]),
        },
        /cifar\/test\/ .*The split is empty/,
      ],
      ['unsafe', { body: rawTgz(entries([{ path: 'cifar/../../x.png', body: png }])) }, /Refused/],
    ];
    for (const [name, item, pattern] of cases) {
      it(name, async () => {
        const url = `${base}/${name}.tgz`;
        if (item !== undefined) served.set(`/${name}.tgz`, item);
        const cacheDir = path.join(dir, `bad-${name}`);
        await assert.rejects(loadCifar(options(`bad-${name}`, url)), (error: unknown) => {
          assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
          assert.ok(error.source.includes(url), `source ${error.source}`);
          assert.ok(error.message.includes(url), error.message);
          assert.match(error.message, pattern);
          return true;
        });
        assert.deepEqual(listFiles(cacheDir), [], 'nothing left in the cache');
      });
    }
  });
});

describe('resolveCacheDir', () => {
  it('takes the option, then CIFAR_NETS_CACHE, then ~/.cache/cifar-nets', () => {
    assert.equal(resolveCacheDir('/a/b', { CIFAR_NETS_CACHE: '/c' }), '/a/b');
    assert.equal(resolveCacheDir(undefined, { CIFAR_NETS_CACHE: '/c' }), '/c');
    assert.equal(resolveCacheDir(undefined, {}), path.join(os.homedir(), '.cache', 'cifar-nets'));
    assert.equal(
      resolveCacheDir(undefined, { CIFAR_NETS_CACHE: '' }),
      path.join(os.homedir(), '.cache', 'cifar-nets'),
    );
  });
});
