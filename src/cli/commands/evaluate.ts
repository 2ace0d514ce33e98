import * as tf from '@tensorflow/tfjs';
import { loadLearnerState } from '../../learner/modelIO';
import {
  loadData,
  printResult,
  startBackend,
  type CommonOptions,
  type DataOptions,
} from '../context';

export type EvaluateOptions = CommonOptions & Omit<DataOptions, 'trainLimit' | 'seed'>;

export interface Evaluation {
  accuracy: number;
  /** Accuracy of each class, by class name. */
  perClass: Record<string, number>;
  /** confusion[actual][predicted] counts, classes in index order. */
  confusion: number[][];
  classes: string[];
}

export async function runEvaluate(options: EvaluateOptions, modelDir: string): Promise<void> {
  await startBackend(options);
  const { model } = await loadLearnerState(modelDir);
  const data = await loadData({ ...options, trainLimit: undefined, seed: 0 });
  const classes = data.classes;
  const confusion = classes.map(() => classes.map(() => 0));
  for await (const { x, y } of data.valid()) {
    const predicted = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, -1));
    const [p, actual] = await Promise.all([predicted.data(), y.data()]);
    for (let i = 0; i < p.length; i++) confusion[actual[i]][p[i]]++;
    tf.dispose([x, y, predicted]);
  }
  const total = confusion.flat().reduce((a, b) => a + b, 0);
  const right = classes.reduce((n, _, i) => n + confusion[i][i], 0);
  const perClass = Object.fromEntries(
    classes.map((name, i) => {
      const count = confusion[i].reduce((a, b) => a + b, 0);
      return [name, count === 0 ? 0 : confusion[i][i] / count];
    }),
  );
  const result: Evaluation = { accuracy: right / total, perClass, confusion, classes };
  printResult(options, result, () => formatEvaluation(result, total));
  model.dispose();
}

function formatEvaluation(e: Evaluation, total: number): string {
  const width = Math.max(...e.classes.map((c) => c.length), 6);
  const lines = [`accuracy ${e.accuracy.toFixed(4)} on ${total} test images`, ''];
  lines.push(`${'class'.padEnd(width)}  accuracy`);
  for (const name of e.classes) lines.push(`${name.padEnd(width)}  ${e.perClass[name].toFixed(4)}`);
  lines.push('', 'confusion (rows: actual, columns: predicted)');
  const short = e.classes.map((c) => c.slice(0, 5).padStart(6));
  lines.push(`${''.padEnd(width)}${short.join('')}`);
  e.confusion.forEach((row, i) => {
    lines.push(`${e.classes[i].padEnd(width)}${row.map((n) => String(n).padStart(6)).join('')}`);
  });
  return lines.join('\n');
}
