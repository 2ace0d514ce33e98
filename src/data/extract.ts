/**
 * Safe untar: a CIFAR archive holds folders and PNG files, nothing else. Any entry that could
 * land outside the target folder, or is a link, makes the whole archive refused.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import * as tar from 'tar';

import { DataError } from './errors';

/** Entry types a data archive may hold; links, devices and FIFOs are refused. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Why `entry` must not be unpacked, or undefined if it is safe: a link, a special file, an
 * absolute path or a path with a `..` segment.
 */
export function unsafeEntryReason(entryPath: string, type: string): string | undefined {
  if (!ALLOWED_TYPES.has(type)) return `it is a ${type}, and a data archive holds only files`;
  const unified = entryPath.replaceAll('\\', '/');
  if (unified.startsWith('/') || /^[a-zA-Z]:/.test(unified)) return 'its path is absolute';
  if (unified.split('/').includes('..')) return "its path contains '..'";
  return undefined;
}

/**
 * Reads an archive's entry list without unpacking it, checking it is gzip and tar and that
 * every entry is safe. Returns the entries' paths; `source` names the archive in errors when
 * `file` is a temporary copy of it.
 */
export async function listArchive(file: string, source = file): Promise<string[]> {
  await checkGzipMagic(file, source);
  const paths: string[] = [];
  let refused: string | undefined;
  await runTar(file, source, () =>
    tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        refused ??= refusal(entry.path, entry.type);
        paths.push(entry.path);
      },
    }),
  );
  if (refused !== undefined) throw unsafeArchiveError(source, refused);
  return paths;
}

/**
 * Unpacks a .tgz into `target` (created if needed), refusing the whole archive if any entry is
 * unsafe. On any failure `target` is removed, so a retry starts from nothing.
 *
 * loadCifar does not need this (it decodes straight from the stream, see decodeArchive); it is
 * here for whoever wants the files themselves. tar runs synchronously: its asynchronous unpack
 * rejects on a damaged archive while writes are still pending, and those could recreate files
 * after the cleanup.
 */
export async function extractArchive(file: string, target: string, source = file): Promise<void> {
  let refused: string | undefined;
  await checkGzipMagic(file, source);
  await mkdir(target, { recursive: true });
  try {
    try {
      tar.x({
        file,
        cwd: target,
        sync: true,
        strict: true,
        preservePaths: false,
        // Owners, modes and times from the archive are not ours to keep.
        preserveOwner: false,
        noChmod: true,
        noMtime: true,
        filter: (entryPath, entry) => {
          const reason = refusal(entryPath, 'type' in entry ? entry.type : 'File');
          refused ??= reason;
          return reason === undefined && refused === undefined;
        },
      });
    } catch (error) {
      throw tarError(file, source, error);
    }
    if (refused !== undefined) throw unsafeArchiveError(source, refused);
  } catch (error) {
    await rm(target, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

function refusal(entryPath: string, type: string): string | undefined {
  const reason = unsafeEntryReason(entryPath, type);
  return reason === undefined ? undefined : `entry '${entryPath}' (${reason})`;
}

/** The error for an archive holding an unsafe entry (`refused` describes it). */
export function unsafeArchiveError(source: string, refused: string): DataError {
  return new DataError(
    `Refused to unpack ${source}: expected only files and folders inside the archive, but ` +
      `${refused} could land outside the target folder. Use an archive from a trusted source, ` +
      'such as the original cifar.tgz.',
    source,
  );
}

/**
 * Looks at the first bytes: a gzip file starts with 1f 8b. Saying "this is an HTML page" or
 * "this is empty" helps more than zlib's "incorrect header check".
 */
export async function checkGzipMagic(file: string, source: string): Promise<void> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(512), 0, 512, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new DataError(
      `Expected to read the archive ${source}, but got ${(error as Error).message}. Check the ` +
        'path, or pass a URL or an extracted folder instead.',
      source,
      { cause: error },
    );
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return;
  const text = head.toString('latin1').trimStart().toLowerCase();
  const found =
    head.length === 0
      ? 'it is empty'
      : text.startsWith('<!doctype html') || text.startsWith('<html') || text.includes('<head')
        ? 'it is an HTML page (a login, error or landing page saved in its place?)'
        : `it starts with bytes ${[...head.subarray(0, 4)].map((b) => b.toString(16)).join(' ')}`;
  throw new DataError(
    `Expected ${source} to be a gzip-compressed tar archive (.tgz, starting with 1f 8b), but ` +
      `${found}. Download cifar.tgz again, or point --data at an extracted folder.`,
    source,
  );
}

/** Runs a tar command, turning zlib and tar failures into a DataError about `source`. */
async function runTar(file: string, source: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    throw tarError(file, source, error);
  }
}

/** A DataError about `source` for a failure reading the archive `file`. */
export function tarError(file: string, source: string, error: unknown): DataError {
  if (error instanceof DataError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && (error as NodeJS.ErrnoException).path === file) {
    return new DataError(
      `Expected an archive at ${source}, but there is no such file. Check the path, or pass ` +
        'a URL or an extracted folder instead.',
      source,
      { cause: error },
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new DataError(
    `Expected ${source} to be a gzip-compressed tar archive (.tgz), but reading it failed: ` +
      `${detail}. The file is truncated or not a .tgz; download it again, or point --data ` +
      'at an extracted folder.',
    source,
    { cause: error },
  );
}

/** The folder that holds `train/` and `test/`: `root` itself or its one subfolder (`cifar/`). */
export function splitRootOf(paths: string[]): string | undefined {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p
      .replaceAll('\\', '/')
      .split('/')
      .filter((s) => s !== '' && s !== '.');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
    if (p.endsWith('/')) dirs.add(parts.join('/'));
  }
  if (dirs.has('train') && dirs.has('test')) return '.';
  const candidates = [...dirs].filter(
    (d) => !d.includes('/') && dirs.has(`${d}/train`) && dirs.has(`${d}/test`),
  );
  return candidates.length === 1 ? candidates[0] : undefined;
}
