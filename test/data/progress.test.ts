import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';

import { createProgressReporter } from '../../src/data/progress';

/** A stream that records what is written, posing as a terminal or not. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 120 });
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { stream, text: () => chunks.join('') };
}

/** Sends a download of 100 MB in 100 steps, then a decode of 1000 images in 10 steps. */
function run(reporter: ReturnType<typeof createProgressReporter>): void {
  for (let i = 0; i <= 100; i++) {
    reporter.update({ phase: 'download', unit: 'bytes', done: i * 1e6, total: 100e6 });
  }
  reporter.stop();
  for (let i = 0; i <= 10; i++) {
    reporter.update({ phase: 'decode', unit: 'images', done: i * 100, total: 1000 });
  }
  reporter.stop();
}

describe('createProgressReporter', () => {
  it('writes a few plain lines when stderr is not a terminal', async () => {
    const { stream, text } = fakeStream(false);
    run(createProgressReporter({ stream }));
    await new Promise((resolve) => setImmediate(resolve));
    const lines = text().trim().split('\n');
    assert.equal(lines.length, 10, lines.join('\n'));
    assert.match(lines[0], /^Downloading: 0\.0\/100\.0 MB \(/);
    assert.match(lines[4], /^Downloading: 100\.0\/100\.0 MB \([\d.]+ MB\/s\)$/);
    assert.match(lines[9], /^Decoding PNGs: 1000\/1000 images \(\d+ images\/s\)$/);
  });

  it('draws a bar with bytes, rate and ETA on a terminal', async () => {
    const { stream, text } = fakeStream(true);
    run(createProgressReporter({ stream }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(text(), /Downloading =+ 100% \| 100\.0\/100\.0 MB \| [\d.]+ MB\/s \| ETA/);
    assert.match(text(), /Decoding PNGs =+ 100% \| 1000\/1000 images/);
  });

  it('writes nothing when quiet', async () => {
    const { stream, text } = fakeStream(true);
    run(createProgressReporter({ stream, quiet: true }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(text(), '');
  });
});
