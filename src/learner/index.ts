/**
 * The learner module: training with fastai 0.7's schedules, lrFind, summaries, and saving
 * and resuming work.
 */
export * from './atomicWrite';
export * from './checkpoint';
export * from './EpochProgress';
export * from './history';
export * from './Learner';
export * from './loss';
export * from './modelIO';
export * from './optimizer';
export * from './plot';
export * from './schedule';
export * from './smoothLoss';
export * from './suggestLr';
export * from './summary';
