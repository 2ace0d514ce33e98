import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TorchTensor } from '../../src/models';

/** The reference folder: `CIFAR_NETS_TORCH_REFERENCE`, or the copy committed under test/. */
export const REFERENCE_DIR =
  process.env.CIFAR_NETS_TORCH_REFERENCE ??
  path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'torch-reference');

export interface TorchReference {
  model: string;
  loss: number;
  paramsTotal: number;
  arrays: Map<string, TorchTensor>;
  /** Arrays whose names start with `prefix`, keyed by the rest of the name. */
  withPrefix(prefix: string): Map<string, TorchTensor>;
}

interface Manifest {
  model: string;
  loss: number;
  params_total: number;
  arrays: { name: string; shape: number[]; offset: number; length: number }[];
}

/** Reads `<model>.json` and `<model>.bin` (float32 little-endian) from the reference folder. */
export function readReference(model: string, dir = REFERENCE_DIR): TorchReference {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, `${model}.json`), 'utf8')) as Manifest;
  const bytes = fs.readFileSync(path.join(dir, `${model}.bin`));
  const floats = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
  );
  const arrays = new Map<string, TorchTensor>();
  for (const a of manifest.arrays) {
    arrays.set(a.name, { shape: a.shape, data: floats.slice(a.offset, a.offset + a.length) });
  }
  const withPrefix = (prefix: string) =>
    new Map(
      [...arrays]
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k.slice(prefix.length), v]),
    );
  return {
    model: manifest.model,
    loss: manifest.loss,
    paramsTotal: manifest.params_total,
    arrays,
    withPrefix,
  };
}

/** Models with a manifest in the folder. */
export function referenceModels(dir = REFERENCE_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}
