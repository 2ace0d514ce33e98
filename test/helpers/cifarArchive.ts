/**
 * A tiny CIFAR-10 packed as cifar.tgz for the CLI and README tests, built with dataFixtures,
 * whose images a model can tell apart: each class has its own colour.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CIFAR_CLASSES, encodePng, makeCifarFolder, makeTempDir, packTgz } from './dataFixtures';
import { startLoopbackServer } from './loopbackServer';

/** 32x32 RGB pixels whose colour says the class, with a little per-image noise. */
function classImage(classIndex: number, imageIndex: number): Uint8Array {
  const base = [
    (classIndex * 97) % 256,
    (classIndex * 53 + 40) % 256,
    (classIndex * 29 + 90) % 256,
  ];
  const rgb = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) {
    const noise = ((p * 31 + imageIndex * 17) % 21) - 10;
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.max(0, Math.min(255, base[c] + noise));
  }
  return rgb;
}

/** classImage as a PNG file's bytes. */
export function classPng(classIndex: number, imageIndex: number): Buffer {
  return encodePng(classImage(classIndex, imageIndex));
}

/**
 * Writes a tiny CIFAR-10 in the cifar.tgz layout (cifar/labels.txt, cifar/train/<n>_<label>.png,
 * cifar/test/...) into a new temporary folder and packs it; returns the archive's path.
 */
export async function makeCifarArchive(trainPerClass = 4, testPerClass = 2): Promise<string> {
  const dir = makeTempDir('cifar-nets-archive-');
  makeCifarFolder(path.join(dir, 'cifar'), {
    classes: [...CIFAR_CLASSES],
    trainCount: trainPerClass * CIFAR_CLASSES.length,
    testCount: testPerClass * CIFAR_CLASSES.length,
    image: classImage,
  });
  const file = path.join(dir, 'cifar.tgz');
  await packTgz(file, dir, ['cifar']);
  return file;
}

/** Serves one file at /cifar.tgz on 127.0.0.1; returns its URL and a close function. */
export async function serveFile(
  file: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await startLoopbackServer((req, res) => {
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
  return { url: `${server.base}/cifar.tgz`, close: server.close };
}
