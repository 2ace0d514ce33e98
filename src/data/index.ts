/**
 * The data module: CIFAR-10 from a URL, archive or folder onto disk once, then batches with the
 * lesson's preprocessing.
 */
export type { Batch, DataLoader } from './Batch';
export { CIFAR_CLASSES, type CifarArrays, type Split } from './CifarArrays';
export { createDataLoader, type LoaderOptions } from './loader';
export {
  augmentInto,
  CHANNELS,
  CIFAR_STATS,
  computeStats,
  drawAugmentation,
  IMAGE_LENGTH,
  IMAGE_SIZE,
  normalisationTable,
  normaliseInto,
  PAD,
  padImage,
  type Augmentation,
  type ChannelStats,
  type PadMode,
} from './augment';
export { createRandom, deriveSeed, shuffledIndices, type Random } from './random';
export { DataError } from './errors';
export {
  CACHE_ENV,
  DEFAULT_DATA_URL,
  loadCifar,
  resolveCacheDir,
  type LoadCifarOptions,
} from './source';
export {
  CACHE_FORMAT_VERSION,
  readCache,
  writeCache,
  type CacheHeader,
  type CacheRead,
} from './cache';
export { decodeArchive, decodeFolder, decodePngInto, type DecodeOptions } from './decode';
export type { ProgressEvent } from './ProgressEvent';
export { downloadFile, type DownloadOptions } from './download';
export { extractArchive, listArchive } from './extract';
export {
  createProgressReporter,
  type ProgressReporter,
  type ProgressReporterOptions,
} from './progress';
