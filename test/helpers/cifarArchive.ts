import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as tar from 'tar';

export const CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** A 32x32 RGB PNG whose colour says its class, with a little per-image noise. */
export function classPng(classIndex: number, imageIndex: number): Buffer {
  const png = new PNG({ width: 32, height: 32, colorType: 2, inputHasAlpha: false });
  const base = [
    (classIndex * 97) % 256,
    (classIndex * 53 + 40) % 256,
    (classIndex * 29 + 90) % 256,
  ];
  for (let p = 0; p < 32 * 32; p++) {
    const noise = ((p * 31 + imageIndex * 17) % 21) - 10;
    for (let c = 0; c < 3; c++) png.data[p * 3 + c] = Math.max(0, Math.min(255, base[c] + noise));
  }
  return PNG.sync.write(png, { colorType: 2, inputHasAlpha: false });
}

/**
 * Writes a tiny CIFAR-10 in the cifar.tgz layout (cifar/labels.txt, cifar/train/<n>_<label>.png,
 * cifar/test/...) into a new temporary folder and packs it; returns the archive's path.
 */
export async function makeCifarArchive(trainPerClass = 4, testPerClass = 2): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-nets-archive-'));
  const root = path.join(dir, 'cifar');
  fs.mkdirSync(path.join(root, 'train'), { recursive: true });
  fs.mkdirSync(path.join(root, 'test'), { recursive: true });
  fs.writeFileSync(path.join(root, 'labels.txt'), `${CLASSES.join('\n')}\n`);
  let n = 0;
  for (const [split, perClass] of [
    ['train', trainPerClass],
    ['test', testPerClass],
  ] as const) {
    for (let i = 0; i < perClass; i++) {
      CLASSES.forEach((label, c) => {
        fs.writeFileSync(path.join(root, split, `${n++}_${label}.png`), classPng(c, n));
      });
    }
  }
  const file = path.join(dir, 'cifar.tgz');
  await tar.c({ gzip: true, file, cwd: dir }, ['cifar']);
  return file;
}

/** Serves one file at /cifar.tgz on 127.0.0.1; returns its URL and a close function. */
export async function serveFile(
  file: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/cifar.tgz') {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/gzip',
      'content-length': fs.statSync(file).size,
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cifar.tgz`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
