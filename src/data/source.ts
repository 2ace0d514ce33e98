/**
 * loadCifar: from a URL, a .tgz or a folder to CifarArrays, through the cache.
 *
 * Cache folder layout:
 *
 *     downloads/<key>-cifar.tgz      archives fetched from URLs, kept to rebuild without network
 *     decoded/<key>/train.bin        decoded splits (see cache.ts)
 *     decoded/<key>/test.bin
 *
 * `<key>` is a hash of the source (the URL, or an archive's path, size and mtime, or a folder's
 * path and mtimes), so two sources never share a cache entry.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import type { CifarArrays } from './CifarArrays';
import { readCache, writeCache } from './cache';
import { decodeArchive, decodeFolder, SPLITS } from './decode';
import { downloadFile } from './download';
import { DataError } from './errors';
import { listArchive, splitRootOf } from './extract';
import type { ProgressEvent } from './ProgressEvent';
import { createProgressReporter } from './progress';

/** Where the lesson downloads CIFAR-10 from. */
export const DEFAULT_DATA_URL = 'http://pjreddie.com/media/files/cifar.tgz';

/** The environment variable that overrides the default cache folder. */
export const CACHE_ENV = 'CIFAR_NETS_CACHE';

/** Options of loadCifar. */
export interface LoadCifarOptions {
  /** An http(s) URL, a path to a .tgz, or an extracted folder. Default DEFAULT_DATA_URL. */
  data?: string;
  /** Cache folder. Default `$CIFAR_NETS_CACHE`, else `~/.cache/cifar-nets`. */
  cacheDir?: string;
  /** Receives download and decode progress instead of the default stderr bar. */
  onProgress?: (event: ProgressEvent) => void;
  /** Receives one-line notes (what is downloaded, cached, rebuilt). Default: stderr. */
  log?: (line: string) => void;
  /** No bar and no notes on stderr (an explicit onProgress or log still gets called). */
  quiet?: boolean;
  /** Download idle timeout in ms. Default 30,000. */
  timeoutMs?: number;
}

/** The cache folder: `cacheDir` if given, else `$CIFAR_NETS_CACHE`, else ~/.cache/cifar-nets. */
export function resolveCacheDir(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = cacheDir ?? (env[CACHE_ENV] || undefined);
  return path.resolve(chosen ?? path.join(os.homedir(), '.cache', 'cifar-nets'));
}

/** What `data` names, once looked at. */
type Source =
  | { kind: 'url'; url: string; key: string }
  | { kind: 'archive'; file: string; key: string }
  | { kind: 'folder'; dir: string; key: string };

/**
 * Gets CIFAR-10 as arrays: from the cache when it holds this source, otherwise by downloading
 * (URL), unpacking (.tgz) and decoding, then caching the result for the next run.
 *
 * Throws a DataError naming the URL or file for anything wrong with the source or the cache
 * folder; a cache file that is damaged or from an older format is rebuilt, with a note.
 */
export async function loadCifar(options: LoadCifarOptions = {}): Promise<CifarArrays> {
  const log =
    options.log ?? (options.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`));
  const reporter =
    options.onProgress === undefined
      ? createProgressReporter({ quiet: options.quiet })
      : { update: options.onProgress, stop: () => {} };
  const cacheDir = resolveCacheDir(options.cacheDir);
  await ensureWritable(cacheDir);
  const source = await resolveSource(options.data ?? DEFAULT_DATA_URL);
  const decodedDir = path.join(cacheDir, 'decoded', source.key);
  await removeStaleTemporaries(path.join(cacheDir, 'downloads'));
  await removeStaleTemporaries(decodedDir);
  const files = {
    train: path.join(decodedDir, 'train.bin'),
    test: path.join(decodedDir, 'test.bin'),
  };

  const cached = await readCachedSplits(files, log);
  if (cached !== undefined) return cached;

  let data: CifarArrays;
  try {
    const onProgress = (e: ProgressEvent) => reporter.update(e);
    if (source.kind === 'folder') {
      log(`Decoding the PNGs in ${source.dir} (once; later runs read the cache)`);
      data = await decodeFolder(source.dir, { onProgress });
    } else if (source.kind === 'archive') {
      log(`Decoding the PNGs in ${source.file} (once; later runs read the cache)`);
      data = await decodeArchive(source.file, { onProgress });
    } else {
      const downloads = path.join(cacheDir, 'downloads');
      await mkdirOrThrow(downloads);
      const archive = path.join(downloads, `${source.key}-cifar.tgz`);
      if (!(await exists(archive))) {
        log(`Downloading ${source.url} to ${archive}`);
        await downloadFile(source.url, archive, {
          timeoutMs: options.timeoutMs,
          onProgress,
          check: checkArchive,
        });
        reporter.stop();
      }
      log(`Decoding the PNGs of ${source.url} (once; later runs read the cache)`);
      try {
        data = await decodeArchive(archive, { onProgress, source: source.url });
      } catch (error) {
        // A downloaded archive that cannot be used is deleted, so the next run downloads anew
        // instead of failing on the same file.
        await rm(archive, { force: true }).catch(() => {});
        throw error;
      }
    }
  } finally {
    reporter.stop();
  }
  await mkdirOrThrow(decodedDir);
  try {
    for (const split of SPLITS) await writeCache(files[split], data.classes, data[split]);
  } catch (error) {
    // Both splits or neither: a lone train.bin would only be thrown away by the next run.
    for (const split of SPLITS) await rm(files[split], { force: true }).catch(() => {});
    throw error;
  }
  log(`Cached decoded data in ${decodedDir}`);
  return data;
}

/** Both splits from the cache, or undefined (after a note if a file was bad) to rebuild. */
async function readCachedSplits(
  files: Record<'train' | 'test', string>,
  log: (line: string) => void,
): Promise<CifarArrays | undefined> {
  const train = await readCache(files.train);
  const test = await readCache(files.test);
  if (train.ok && test.ok && train.classes.join('\n') === test.classes.join('\n')) {
    return { classes: train.classes, train: train.split, test: test.split };
  }
  for (const split of SPLITS) {
    const read = split === 'train' ? train : test;
    if (!read.ok && read.reason !== 'missing') {
      const what = read.reason === 'old-format' ? 'is from an older format' : 'is damaged';
      log(`Note: the cache file ${files[split]} ${what} (${read.detail}); rebuilding it.`);
    }
    await rm(files[split], { force: true });
  }
  return undefined;
}

/** The check a download must pass before it is renamed into place. */
async function checkArchive(file: string, url: string): Promise<void> {
  const entries = await listArchive(file, url);
  if (splitRootOf(entries) === undefined) {
    throw new DataError(
      `Expected ${url} to hold train/ and test/ folders (as cifar/train/, cifar/test/), but ` +
        `its ${entries.length} entries have none. Check the URL points at cifar.tgz.`,
      url,
    );
  }
}

async function resolveSource(data: string): Promise<Source> {
  if (/^https?:\/\//i.test(data)) return { kind: 'url', url: data, key: hash(data) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(data)) {
    throw new DataError(
      `Expected --data to be an http(s) URL, a .tgz file or a folder, but got '${data}'. ` +
        'Download the file yourself and pass its path.',
      data,
    );
  }
  const resolved = path.resolve(data);
  let info;
  try {
    info = await stat(resolved);
  } catch (error) {
    throw new DataError(
      `Expected --data to be an http(s) URL, a .tgz file or a folder, but ${resolved} does ` +
        `not exist (${(error as NodeJS.ErrnoException).code}). Check the path.`,
      resolved,
      { cause: error },
    );
  }
  const real = await realpath(resolved);
  if (info.isDirectory()) {
    // A folder's identity: its path and the mtimes of its splits (adding or removing images
    // changes them; editing a file in place does not, see the README's limitations).
    const stamps = [real];
    for (const sub of ['', 'train', 'test', 'cifar/train', 'cifar/test']) {
      const s = await stat(path.join(real, sub)).catch(() => undefined);
      stamps.push(`${sub}:${s?.mtimeMs ?? '-'}`);
    }
    return { kind: 'folder', dir: real, key: hash(stamps.join('\n')) };
  }
  return { kind: 'archive', file: real, key: hash(`${real}\n${info.size}\n${info.mtimeMs}`) };
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Removes `.part` and `.tmp` files left in `dir` by runs that were killed before they could
 * clean up. Their names carry the writer's pid; a live process's files are left alone.
 */
async function removeStaleTemporaries(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const match = /\.(\d+)-[0-9a-f]{8}\.(part|tmp)$/.exec(name);
    if (match === null || isAlive(Number(match[1]))) continue;
    await rm(path.join(dir, name), { force: true }).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes sure the cache folder exists and takes files, or says how to pick another. */
async function ensureWritable(cacheDir: string): Promise<void> {
  await mkdirOrThrow(cacheDir);
  const probe = path.join(cacheDir, `.write-test-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    throw cacheDirError(cacheDir, error);
  }
}

async function mkdirOrThrow(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw cacheDirError(dir, error);
  }
}

function cacheDirError(dir: string, error: unknown): DataError {
  return new DataError(
    `Expected to write to the cache folder ${dir}, but got ${(error as Error).message}. ` +
      `Choose a writable folder with --cache-dir <dir> or the ${CACHE_ENV} variable.`,
    dir,
    { cause: error },
  );
}
