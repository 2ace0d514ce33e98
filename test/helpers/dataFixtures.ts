/**
 * Small data sets for the data tests and the learner's: synthetic arrays, real PNG folders and
 * .tgz archives built in a temporary folder, and hand-made tar bytes for archives that no
 * well-behaved tool would write. Nothing comes from the network or from ../shared.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import * as tar from 'tar';

import type { CifarArrays, Split } from '../../src/data/CifarArrays';

import { CIFAR_CLASSES } from '../../src/data/CifarArrays';

export { CIFAR_CLASSES };

/**
 * A split of `count` 32x32 RGB images whose pixels are a cheap hash of (image, row, col,
 * channel) and whose labels cycle through `classCount` classes.
 */
export function syntheticSplit(count: number, classCount = 10, salt = 0): Split {
  const images = new Uint8Array(count * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) {
    images[i] = (Math.imul(i + salt * 7919, 2654435761) >>> 24) & 0xff;
  }
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classCount;
  return { images, labels, count };
}

/** A tiny CifarArrays: `trainCount` and `testCount` synthetic images over the ten classes. */
export function syntheticCifar(trainCount = 64, testCount = 32): CifarArrays {
  return {
    classes: [...CIFAR_CLASSES],
    train: syntheticSplit(trainCount, 10, 1),
    test: syntheticSplit(testCount, 10, 2),
  };
}

/** A fresh temporary folder; remove it with removeTempDir. */
export function makeTempDir(prefix = 'cifar-nets-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Removes a folder made by makeTempDir. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every file (not folder) under `dir`, as paths relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string): void => {
    for (const e of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) walk('');
  return out.sort();
}

/** Encodes `rgb` (height * width * 3 bytes) as an 8-bit RGB PNG, or grey / RGBA when asked. */
export function encodePng(
  rgb: Uint8Array,
  options: { width?: number; height?: number; colorType?: 0 | 2 | 6 } = {},
): Buffer {
  const width = options.width ?? 32;
  const height = options.height ?? 32;
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    png.data[p * 4] = rgb[p * 3];
    png.data[p * 4 + 1] = rgb[p * 3 + 1];
    png.data[p * 4 + 2] = rgb[p * 3 + 2];
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: options.colorType ?? 2, inputHasAlpha: true });
}

/** A fixture image: distinct, known pixels for image `seed`. */
export function fixtureImage(seed: number): Uint8Array {
  const rgb = new Uint8Array(32 * 32 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (seed * 37 + i * 11 + (i % 3) * 85) & 0xff;
  return rgb;
}

/** What makeCifarFolder wrote: the arrays that decoding it must give back. */
export interface FixtureSet {
  /** The folder holding train/ and test/ (and labels.txt). */
  root: string;
  expected: CifarArrays;
}

/** Options of makeCifarFolder. */
export interface FixtureOptions {
  /** Class names, in any order (labels.txt lists them as given). Default three classes. */
  classes?: string[];
  trainCount?: number;
  testCount?: number;
  /** 'flat' is cifar.tgz's `<split>/<n>_<label>.png`; 'folders' is `<split>/<label>/<n>.png`. */
  layout?: 'flat' | 'folders';
  /** Write labels.txt. Default true for 'flat'. */
  labelsFile?: boolean;
  /** Pixels of image `seed`, whose class is `classes[label]` as given. Default fixtureImage. */
  image?: (label: number, seed: number) => Uint8Array;
}

/**
 * Writes a tiny CIFAR-shaped folder of real PNGs at `root` and returns what decoding it must
 * give. Images are numbered so that their numeric order differs from their string order
 * (2 before 10), and labels cycle through the classes.
 */
export function makeCifarFolder(root: string, options: FixtureOptions = {}): FixtureSet {
  const given = options.classes ?? ['cat', 'airplane', 'dog'];
  const classes = [...given].sort();
  const layout = options.layout ?? 'flat';
  const counts = { train: options.trainCount ?? 6, test: options.testCount ?? 4 };
  mkdirSync(root, { recursive: true });
  if (options.labelsFile ?? layout === 'flat') {
    writeFileSync(path.join(root, 'labels.txt'), `${given.join('\n')}\n`);
  }
  const split = (name: 'train' | 'test', offset: number): Split => {
    const count = counts[name];
    const images = new Uint8Array(count * 3072);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const label = (i + offset) % given.length;
      const seed = i + offset * 100;
      const rgb = options.image?.(label, seed) ?? fixtureImage(seed);
      images.set(rgb, i * 3072);
      labels[i] = classes.indexOf(given[label]);
      // Numbers 2, 10, 18, ...: numeric order is not string order.
      const n = 2 + i * 8;
      const dir = layout === 'flat' ? path.join(root, name) : path.join(root, name, given[label]);
      mkdirSync(dir, { recursive: true });
      const file = layout === 'flat' ? `${n}_${given[label]}.png` : `${n}.png`;
      writeFileSync(path.join(dir, file), encodePng(rgb));
    }
    return { images, labels, count };
  };
  return { root, expected: { classes, train: split('train', 0), test: split('test', 1) } };
}

/** Packs `cwd/entries` into a gzipped tar at `file` with the tar package. */
export async function packTgz(file: string, cwd: string, entries: string[]): Promise<void> {
  await tar.c({ gzip: true, file, cwd, portable: true }, entries);
}

/** One entry of a hand-made tar. */
export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  body?: Buffer | string;
  linkpath?: string;
}

/**
 * Builds a .tgz byte by byte, entry paths taken as they are: how the tests make archives with
 * `..`, absolute paths and links, which tar.c would refuse or rewrite.
 */
export function rawTgz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = new tar.Header({
      path: e.path,
      type: e.type ?? 'File',
      size: e.type === undefined || e.type === 'File' ? body.length : 0,
      mode: e.type === 'Directory' ? 0o755 : 0o644,
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (header.size && header.size > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
