/**
 * cifar-nets: fastai lesson 7's CIFAR-10 models, data pipeline and learner on TensorFlow.js.
 *
 * Importing the package registers its custom layers (BnLayer, GlobalMaxPool, LogSoftmax) with
 * TensorFlow.js's serialisation, so `tf.loadLayersModel` can read the models it saves.
 */
export * from './backend';
export * from './data';
export { loadCifar, resolveCacheDir, DEFAULT_DATA_URL, type LoadCifarOptions } from './data/source';
export * from './learner';
export * from './models';
