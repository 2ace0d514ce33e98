import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * A name beside `target` in the same folder, so that a rename onto `target` stays on one file
 * system and is atomic. Hidden, and marked with the process id, so a leftover from a crash is
 * recognisable and never collides with a concurrent writer.
 */
export function siblingTempPath(target: string, tag = 'tmp'): string {
  const dir = path.dirname(path.resolve(target));
  const base = path.basename(target);
  return path.join(dir, `.${base}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `data` to `file` so that readers see either the old file or the whole new one, never
 * a part: the bytes go to a temporary file in the same folder, are flushed to disk with fsync,
 * and the temporary file is renamed over `file`. On failure the temporary file is removed and
 * the old `file`, if any, is left as it was.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temp = siblingTempPath(file);
  try {
    await writeAndSync(temp, data);
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await syncFolder(path.dirname(path.resolve(file)));
}

/**
 * Creates or replaces the folder `dir` as one step: `fill` writes the new contents into a
 * temporary sibling folder, then that folder is renamed into place. An older `dir` is first
 * renamed away and removed only once the new one is in place, so a crash leaves either the old
 * folder or the new one under `dir` (and at worst a hidden leftover beside it), never a mix.
 * If `fill` or a rename fails, the temporary folder is removed and the old `dir` restored.
 *
 * Files written by `fill` should be flushed with {@link writeAndSync}, or the rename may
 * reach the disk before their contents do.
 */
export async function replaceFolderAtomic(
  dir: string,
  fill: (tempDir: string) => Promise<void>,
): Promise<void> {
  const target = path.resolve(dir);
  const temp = siblingTempPath(target);
  const old = siblingTempPath(target, 'old');
  let movedOldAway = false;
  const existing = await fs.lstat(target).catch(() => null);
  if (existing && !existing.isDirectory()) {
    throw Object.assign(
      new Error(
        `Expected ${target} to be a folder or not to exist, but it is a file; ` +
          'move the file away or choose another path.',
      ),
      { code: 'ENOTDIR', path: target },
    );
  }
  try {
    await fs.mkdir(temp);
    await fill(temp);
    await syncFolder(temp);
    try {
      await fs.rename(target, old);
      movedOldAway = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true });
    if (movedOldAway) await fs.rename(old, target).catch(() => undefined);
    throw err;
  }
  await syncFolder(path.dirname(target));
  if (movedOldAway) await fs.rm(old, { recursive: true, force: true });
}

/** Writes `data` to `file` and flushes it to disk before returning. */
export async function writeAndSync(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a folder's entries (new names, renames) to disk. Some platforms (Windows) cannot
 * open a folder for syncing; there the rename is as durable as the OS makes it anyway.
 */
async function syncFolder(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here; see above.
  } finally {
    await handle?.close();
  }
}
