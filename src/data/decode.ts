/**
 * Turns CIFAR image files into arrays: every PNG decoded once and checked to be 32x32 RGB, from
 * an extracted folder or straight from a .tgz stream.
 *
 * PNGs are decoded with pngjs: pure JavaScript (nothing to compile, works wherever Node does),
 * long maintained, a synchronous API that suits 60,000 tiny files, and it reports each file's
 * colour type and alpha, which the checks below need.
 *
 * Two layouts are read: the cifar.tgz one, `<split>/<n>_<label>.png` beside `labels.txt`, and
 * the class-folder one, `<split>/<label>/*.png`, that fastai's `from_paths` reads. Classes are
 * indexed in sorted order. Images keep the archive's order (by `<n>`, or by file name across
 * class folders), so `--train-limit N` takes a mix of classes rather than N airplanes.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { PNG } from 'pngjs';
import * as tar from 'tar';

import type { CifarArrays, Split } from './CifarArrays';
import { IMAGE_LENGTH, IMAGE_SIZE } from './augment';
import { DataError } from './errors';
import type { ProgressEvent } from './ProgressEvent';
import { checkGzipMagic, tarError, unsafeArchiveError, unsafeEntryReason } from './extract';

/** Options of decodeFolder and decodeArchive. */
export interface DecodeOptions {
  /** Called now and then while decoding. */
  onProgress?: (event: ProgressEvent) => void;
}

/** Names of the two splits, as folders and as CifarArrays fields. */
export const SPLITS = ['train', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

/**
 * Decodes `root` (a folder holding `train/` and `test/`, or holding one folder that does, such
 * as `cifar/`) into CifarArrays.
 */
export async function decodeFolder(
  root: string,
  options: DecodeOptions = {},
): Promise<CifarArrays> {
  const splitRoot = await findSplitRoot(root);
  const collector = new ImageCollector((relative) => path.join(splitRoot, relative), splitRoot);
  const files: string[] = [];
  for (const split of SPLITS) {
    for (const e of await readdir(path.join(splitRoot, split), { withFileTypes: true })) {
      if (e.isFile()) files.push(`${split}/${e.name}`);
      if (!e.isDirectory()) continue;
      for (const name of await readdir(path.join(splitRoot, split, e.name))) {
        files.push(`${split}/${e.name}/${name}`);
      }
    }
  }
  const labelsText = await readFile(path.join(splitRoot, 'labels.txt'), 'utf8').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new DataError(
        `Expected to read ${path.join(splitRoot, 'labels.txt')}, but got ${error.message}.`,
        path.join(splitRoot, 'labels.txt'),
        { cause: error },
      );
    },
  );
  if (labelsText !== undefined) collector.setLabels(labelsText);
  const images = files.filter((f) => collector.wants(f));
  // Read a few hundred files at a time: enough to keep the disk busy, few enough to bound
  // open files and memory.
  const chunk = 256;
  for (let start = 0; start < images.length; start += chunk) {
    const part = images.slice(start, start + chunk);
    const buffers = await Promise.all(part.map((f) => readImageFile(splitRoot, f)));
    part.forEach((f, k) => collector.add(f, buffers[k]));
    const done = start + part.length;
    options.onProgress?.({ phase: 'decode', unit: 'images', done, total: images.length });
  }
  return collector.finish();
}

/**
 * Decodes a .tgz straight from its stream, without unpacking it to disk (writing 60,000 small
 * files costs more than decoding them). Entries that would land outside the folder if
 * unpacked (absolute paths, `..`, links) make the whole archive refused, as in extractArchive.
 *
 * `source` names the archive in errors, and files inside it as `<source>:<entry path>`.
 */
export async function decodeArchive(
  file: string,
  options: DecodeOptions & { source?: string } = {},
): Promise<CifarArrays> {
  const source = options.source ?? file;
  await checkGzipMagic(file, source);
  const total = (await stat(file)).size;
  // One collector per top folder: the split root is '' (train/ at the top) or a folder such
  // as cifar/; which one holds the data is known only at the end.
  const collectors = new Map<string, ImageCollector>();
  const collectorFor = (prefix: string): ImageCollector => {
    let c = collectors.get(prefix);
    if (c === undefined) {
      const show = (relative: string) =>
        `${source}:${prefix === '' ? '' : `${prefix}/`}${relative}`;
      c = new ImageCollector(show, `${source}:${prefix}`);
      collectors.set(prefix, c);
    }
    return c;
  };
  let failure: unknown;
  let done = 0;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      if (failure !== undefined) return entry.resume();
      const unsafe = unsafeEntryReason(entry.path, entry.type);
      if (unsafe !== undefined) {
        failure = unsafeArchiveError(source, `entry '${entry.path}' (${unsafe})`);
        return entry.resume();
      }
      const parts = entry.path.split('/').filter((s) => s !== '' && s !== '.');
      const atTop = SPLITS.includes(parts[0] as SplitName) || parts[0] === 'labels.txt';
      const prefix = atTop ? '' : parts[0];
      const relative = (atTop ? parts : parts.slice(1)).join('/');
      const collector = collectorFor(prefix);
      const isLabels = relative === 'labels.txt';
      if (entry.type === 'Directory' || (!isLabels && !collector.wants(relative))) {
        return entry.resume();
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        if (failure !== undefined) return;
        try {
          const body = Buffer.concat(chunks);
          if (isLabels) collector.setLabels(body.toString('utf8'));
          else collector.add(relative, body);
        } catch (error) {
          failure = error;
        }
      });
    },
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      options.onProgress?.({ phase: 'decode', unit: 'bytes', done, total });
      callback(null, chunk);
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      parser.on('error', reject);
      parser.on('abort', reject);
      parser.on('end', () => resolve());
      const input = createReadStream(file);
      input.on('error', reject);
      counter.on('error', reject);
      input.pipe(counter).pipe(parser as unknown as NodeJS.WritableStream);
    });
  } catch (error) {
    throw failure ?? tarError(file, source, error);
  }
  if (failure !== undefined) throw failure;
  const complete = [...collectors.entries()].filter(([, c]) => c.hasBothSplits());
  if (complete.length === 0) {
    // Images in one split only: finish() names the empty one.
    [...collectors.values()].find((c) => c.hasImages())?.finish();
  }
  if (complete.length !== 1) {
    const found = [...collectors.keys()].map((k) => (k === '' ? '(top)' : `${k}/`));
    throw new DataError(
      complete.length === 0
        ? `Expected ${source} to hold train/ and test/ folders of PNG images (as ` +
            `cifar/train/, cifar/test/), but found none (top folders: ` +
            `${found.join(', ') || 'none'}` +
            '). Check this is the CIFAR archive, or point --data at an extracted folder.'
        : `Expected one folder holding train/ and test/ in ${source}, but found ` +
            `${complete.length}: ${complete.map(([k]) => k || '(top)').join(', ')}. Repack ` +
            'the archive with one of them.',
      source,
    );
  }
  return complete[0][1].finish();
}

/** `root` if it holds train/ and test/, else its only subfolder that does. */
export async function findSplitRoot(root: string): Promise<string> {
  const hasSplits = async (dir: string): Promise<boolean> =>
    (await isDirectory(path.join(dir, 'train'))) && (await isDirectory(path.join(dir, 'test')));
  if (!(await isDirectory(root))) {
    throw new DataError(
      `Expected ${root} to be a folder holding train/ and test/, but it is not a folder. ` +
        'Pass an extracted CIFAR folder, a .tgz or a URL.',
      root,
    );
  }
  if (await hasSplits(root)) return root;
  const found: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (e.isDirectory() && (await hasSplits(path.join(root, e.name)))) {
      found.push(path.join(root, e.name));
    }
  }
  if (found.length === 1) return found[0];
  throw new DataError(
    found.length === 0
      ? `Expected ${root} to hold train/ and test/ folders (or one folder, like cifar/, that ` +
          'does), but found none. Point --data at the folder that holds them.'
      : `Expected one folder holding train/ and test/ in ${root}, but found ${found.length}: ` +
          `${found.join(', ')}. Point --data at one of them.`,
    root,
  );
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function readImageFile(root: string, relative: string): Promise<Buffer> {
  const file = path.join(root, relative);
  try {
    return await readFile(file);
  } catch (error) {
    throw new DataError(
      `Expected to read the image ${file}, but got ${(error as Error).message}. Check the ` +
        'folder is complete and readable.',
      file,
      { cause: error },
    );
  }
}

/** One decoded image, before the split is sorted and packed. */
interface Decoded {
  label: string;
  /** `<n>` of a `<n>_<label>.png` name; NaN in the class-folder layout. */
  n: number;
  name: string;
  pixels: Uint8Array;
}

/**
 * Gathers decoded images of both splits (relative paths like `train/12_cat.png` or
 * `train/cat/12.png`), then packs them into CifarArrays, checking layout, labels and counts.
 */
class ImageCollector {
  private readonly images: Record<SplitName, Decoded[]> = { train: [], test: [] };
  private readonly layouts: Record<SplitName, Set<'flat' | 'folders'>> = {
    train: new Set(),
    test: new Set(),
  };
  private labels: string[] | undefined;

  /** `show` names a relative path in errors; `rootName` names the split root. */
  constructor(
    private readonly show: (relative: string) => string,
    private readonly rootName: string,
  ) {}

  /** Whether `relative` is an image this collector would decode. */
  wants(relative: string): boolean {
    const parts = relative.split('/');
    const name = parts[parts.length - 1];
    return (
      SPLITS.includes(parts[0] as SplitName) &&
      (parts.length === 2 || parts.length === 3) &&
      !name.startsWith('.') &&
      name.toLowerCase().endsWith('.png')
    );
  }

  hasImages(): boolean {
    return this.images.train.length > 0 || this.images.test.length > 0;
  }

  hasBothSplits(): boolean {
    return this.images.train.length > 0 && this.images.test.length > 0;
  }

  setLabels(text: string): void {
    this.labels = text
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (this.labels.length === 0) {
      throw new DataError(
        `Expected ${this.show('labels.txt')} to list class names, one a line, but it is ` +
          'empty. Fill it in, or remove it to take the classes from the file names.',
        this.show('labels.txt'),
      );
    }
  }

  add(relative: string, png: Buffer): void {
    const parts = relative.split('/');
    const split = parts[0] as SplitName;
    const name = parts[parts.length - 1];
    let label: string;
    let n = NaN;
    if (parts.length === 2) {
      const match = /^(\d+)_(.+)\.png$/i.exec(name);
      if (match === null) {
        throw new DataError(
          `Expected image file names of the form <n>_<label>.png, but got ` +
            `${this.show(relative)}. Rename it, or use the class-folder layout ` +
            '<split>/<label>/*.png.',
          this.show(relative),
        );
      }
      n = Number(match[1]);
      label = match[2];
      this.layouts[split].add('flat');
    } else {
      label = parts[1];
      this.layouts[split].add('folders');
    }
    const pixels = new Uint8Array(IMAGE_LENGTH);
    decodePngInto(png, this.show(relative), pixels, 0);
    this.images[split].push({ label, n, name, pixels });
  }

  finish(): CifarArrays {
    for (const split of SPLITS) {
      if (this.layouts[split].size > 1) {
        throw new DataError(
          `Expected ${this.show(`${split}/`)} to use one layout, but it has both PNG files ` +
            '(<n>_<label>.png) and class folders (<label>/*.png). Keep one of them.',
          this.show(`${split}/`),
        );
      }
      if (this.images[split].length === 0) {
        throw new DataError(
          `Expected PNG images in ${this.show(`${split}/`)} (as <n>_<label>.png or ` +
            '<label>/*.png), but found none. The split is empty: check the archive or folder ' +
            'is complete.',
          this.show(`${split}/`),
        );
      }
    }
    // Sorted, as fastai sorts class folders; labels.txt, when present, is the authority.
    const names = this.labels ?? this.images.train.map((d) => d.label);
    const classes = [...new Set(names)].sort();
    if (classes.length > 256) {
      throw new DataError(
        `Expected at most 256 classes (labels are stored as bytes), but found ` +
          `${classes.length} in ${this.rootName}.`,
        this.rootName,
      );
    }
    const index = new Map(classes.map((name, i) => [name, i]));
    const pack = (split: SplitName): Split => {
      const list = this.images[split];
      list.sort(
        (a, b) => a.n - b.n || 0 || compareNames(a.name, b.name) || compareNames(a.label, b.label),
      );
      const images = new Uint8Array(list.length * IMAGE_LENGTH);
      const labels = new Uint8Array(list.length);
      list.forEach((d, i) => {
        const classIndex = index.get(d.label);
        if (classIndex === undefined) {
          const where = Number.isNaN(d.n) ? `${split}/${d.label}/${d.name}` : `${split}/${d.name}`;
          throw new DataError(
            `Expected the label of ${this.show(where)} to be one of the classes ` +
              `(${classes.join(', ')}), but got '${d.label}'. Rename or remove the file, or ` +
              'add the class to labels.txt.',
            this.show(where),
          );
        }
        images.set(d.pixels, i * IMAGE_LENGTH);
        labels[i] = classIndex;
      });
      return { images, labels, count: list.length };
    };
    return { classes, train: pack('train'), test: pack('test') };
  }
}

const collator = new Intl.Collator('en', { numeric: true });
function compareNames(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Decodes one PNG into 32 * 32 * 3 RGB bytes at `out[offset]`. Throws a DataError naming `file`
 * if it is not a PNG, is damaged, or is not a 32x32 RGB image.
 */
export function decodePngInto(png: Buffer, file: string, out: Uint8Array, offset: number): void {
  let decoded: ReturnType<typeof PNG.sync.read> & { color?: boolean; alpha?: boolean };
  try {
    decoded = PNG.sync.read(png);
  } catch (error) {
    throw new DataError(
      `Expected ${file} to be a PNG image, but decoding it failed: ${(error as Error).message}. ` +
        'The file is damaged; replace it, or download and unpack the archive again.',
      file,
      { cause: error },
    );
  }
  const { width, height, data } = decoded;
  // pngjs reports `color` (RGB or palette, not grey) and `alpha` (an alpha channel or
  // transparency) for the file as stored; its data is always expanded to RGBA.
  if (width !== IMAGE_SIZE || height !== IMAGE_SIZE || !decoded.color || decoded.alpha) {
    const kind = `${decoded.color ? 'colour' : 'greyscale'}${decoded.alpha ? ' with alpha' : ''}`;
    throw new DataError(
      `Expected ${file} to be a 32x32 RGB image, but it is ${width}x${height} ${kind}. ` +
        'CIFAR-10 images are 32x32 RGB: convert or remove this file.',
      file,
    );
  }
  for (let p = 0, o = offset; p < data.length; p += 4, o += 3) {
    out[o] = data[p];
    out[o + 1] = data[p + 1];
    out[o + 2] = data[p + 2];
  }
}
