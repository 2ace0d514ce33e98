import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { IMAGE_LENGTH, normalisationTable, normaliseInto } from '../../data';
import { decodePngInto } from '../../data/decode';
import { loadLearnerState } from '../../learner/modelIO';
import { CliError } from '../CliError';
import { printResult, startBackend, type CommonOptions } from '../context';

export interface PredictOptions extends CommonOptions {
  top: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export async function runPredict(
  options: PredictOptions,
  modelDir: string,
  images: string[],
): Promise<void> {
  // Read every image before loading anything, so a bad path fails fast.
  const pixels = new Uint8Array(images.length * IMAGE_LENGTH);
  images.forEach((file, i) => {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new CliError(
        `Expected ${file} to be a readable PNG image, but it could not be read ` +
          `(${(err as NodeJS.ErrnoException).code}). Check the path.`,
      );
    }
    if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
      throw new CliError(
        `Expected ${file} to be a PNG image, but it does not start with the PNG signature. ` +
          'predict takes 32x32 RGB PNG files; convert the image first.',
      );
    }
    decodePngInto(bytes, file, pixels, i * IMAGE_LENGTH);
  });
  await startBackend(options);
  const { model, metadata } = await loadLearnerState(modelDir);
  const classes = metadata.classes as string[] | undefined;
  if (!Array.isArray(classes)) {
    throw new CliError(
      `Expected ${modelDir} to list its class names in model.json's metadata, as train --save ` +
        'writes, but it has none; save the model again with this version of cifar-nets.',
    );
  }
  const table = normalisationTable();
  const x = new Float32Array(pixels.length); // [images, 32, 32, 3]
  for (let i = 0; i < images.length; i++) normaliseInto(pixels, i, table, x, i);
  const probs = tf.tidy(() =>
    tf.exp(model.predict(tf.tensor4d(x, [images.length, 32, 32, 3])) as tf.Tensor),
  );
  const rows = (await probs.array()) as number[][];
  probs.dispose();
  model.dispose();
  const predictions = images.map((image, i) => ({
    image,
    top: rows[i]
      .map((p, c) => ({ class: classes[c] ?? String(c), probability: p }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, options.top),
  }));
  printResult(options, { predictions }, () =>
    predictions
      .map(
        (p) =>
          `${p.image}: ` +
          p.top.map((t) => `${t.class} ${(t.probability * 100).toFixed(1)}%`).join(', '),
      )
      .join('\n'),
  );
}
