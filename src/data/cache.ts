/**
 * The decoded-data cache: one binary file a split, so later runs skip the 60,000 PNGs.
 *
 * Layout, all little-endian:
 *
 *     bytes 0-7    magic "CIFARNET"
 *     bytes 8-11   uint32 format version (CACHE_FORMAT_VERSION)
 *     bytes 12-15  uint32 n, the length of the JSON header
 *     n bytes      JSON CacheHeader: version, shape, class names, checksum
 *     count bytes  labels, uint8
 *     the rest     pixels, uint8 NHWC [count, 32, 32, 3]
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';

import type { Split } from './CifarArrays';
import { CHANNELS, IMAGE_LENGTH, IMAGE_SIZE } from './augment';
import { DataError } from './errors';

/** Bumped whenever the layout or the decoding changes; older files are rebuilt. */
export const CACHE_FORMAT_VERSION = 1;

const MAGIC = Buffer.from('CIFARNET', 'latin1');
const PREFIX_LENGTH = MAGIC.length + 8;

/** The JSON header of a cache file. */
export interface CacheHeader {
  version: number;
  /** [count, height, width, channels] of the pixels. */
  shape: [number, number, number, number];
  classes: string[];
  /** `sha256:<hex>` of the labels then the pixels. */
  checksum: string;
}

/** What readCache found: the split, or why the file cannot be used. */
export type CacheRead =
  | { ok: true; classes: string[]; split: Split }
  | { ok: false; reason: 'missing' | 'old-format' | 'corrupt'; detail: string };

/**
 * Writes one split to `file` atomically: into a temporary file beside it, flushed, then renamed,
 * so a crash or a full disk never leaves a half-written cache that looks whole.
 */
export async function writeCache(file: string, classes: string[], split: Split): Promise<void> {
  const header: CacheHeader = {
    version: CACHE_FORMAT_VERSION,
    shape: [split.count, IMAGE_SIZE, IMAGE_SIZE, CHANNELS],
    classes,
    checksum: checksum(split.labels, split.images),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_LENGTH);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CACHE_FORMAT_VERSION, MAGIC.length);
  prefix.writeUInt32LE(json.length, MAGIC.length + 4);
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writev([prefix, json, split.labels, split.images]);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // Cleaning up must not hide the error that made it necessary.
    await rm(temp, { force: true }).catch(() => {});
    throw new DataError(
      `Expected to write the cache file ${file}, but got ${(error as Error).message}. Free ` +
        'some disk space, or choose another cache folder with --cache-dir or CIFAR_NETS_CACHE.',
      file,
      { cause: error },
    );
  }
}

/**
 * Reads one split back, checking magic, version, shape and checksum. Never throws for a bad
 * file: it says why, and the caller rebuilds the cache.
 */
export async function readCache(file: string): Promise<CacheRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'missing', detail: 'no cache file yet' };
    return { ok: false, reason: 'corrupt', detail: (error as Error).message };
  }
  const corrupt = (detail: string): CacheRead => ({ ok: false, reason: 'corrupt', detail });
  if (bytes.length < PREFIX_LENGTH || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    return corrupt('it does not start with the CIFARNET magic');
  }
  const version = bytes.readUInt32LE(MAGIC.length);
  if (version !== CACHE_FORMAT_VERSION) {
    return {
      ok: false,
      reason: 'old-format',
      detail: `format version ${version}, this version reads ${CACHE_FORMAT_VERSION}`,
    };
  }
  const jsonLength = bytes.readUInt32LE(MAGIC.length + 4);
  let header: CacheHeader;
  try {
    header = JSON.parse(
      bytes.subarray(PREFIX_LENGTH, PREFIX_LENGTH + jsonLength).toString('utf8'),
    ) as CacheHeader;
  } catch {
    return corrupt('its header is not valid JSON');
  }
  const shape: unknown[] = Array.isArray(header?.shape) ? header.shape : [];
  const count = Number(shape[0]);
  if (
    !Number.isInteger(count) ||
    count <= 0 ||
    shape[1] !== IMAGE_SIZE ||
    shape[2] !== IMAGE_SIZE ||
    shape[3] !== CHANNELS ||
    !Array.isArray(header.classes) ||
    header.classes.length === 0
  ) {
    return corrupt(`its header is not that of 32x32x3 images: ${JSON.stringify(header.shape)}`);
  }
  const start = PREFIX_LENGTH + jsonLength;
  const expectedLength = start + count + count * IMAGE_LENGTH;
  if (bytes.length !== expectedLength) {
    return corrupt(`it is ${bytes.length} bytes long, expected ${expectedLength}`);
  }
  const labels = new Uint8Array(bytes.buffer, bytes.byteOffset + start, count);
  const images = new Uint8Array(
    bytes.buffer,
    bytes.byteOffset + start + count,
    count * IMAGE_LENGTH,
  );
  if (checksum(labels, images) !== header.checksum) return corrupt('its checksum does not match');
  return { ok: true, classes: header.classes, split: { images, labels, count } };
}

function checksum(labels: Uint8Array, images: Uint8Array): string {
  return `sha256:${createHash('sha256').update(labels).update(images).digest('hex')}`;
}
