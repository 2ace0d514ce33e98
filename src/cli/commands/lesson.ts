import { MODEL_NAMES, MODELS, parseModelName, type ModelEntry } from '../../models';
import {
  createLearner,
  loadData,
  logger,
  printResult,
  startBackend,
  type CommonOptions,
  type DataOptions,
} from '../context';
import { formatFit } from '../parsers';

export interface LessonOptions extends CommonOptions, DataOptions {
  models?: string;
}

export interface LessonRow {
  model: string;
  fits: string;
  accuracy: number;
  lessonAccuracy: number;
  lessonBlogAccuracy: number | null;
  epochs: number;
  secondsPerEpoch: number;
  backend: string;
}

/** Trains each model with the lesson's fits, on the same data, and sets it beside the lesson. */
export async function runLesson(options: LessonOptions): Promise<void> {
  const names = options.models
    ? options.models.split(',').map((n) => parseModelName(n.trim()))
    : MODEL_NAMES;
  const backend = await startBackend(options);
  const data = await loadData(options);
  const log = logger(options);
  const rows: LessonRow[] = [];
  for (const name of names) {
    const entry: ModelEntry = MODELS[name];
    const fits = entry.lessonFits.map(formatFit).join(' ');
    log?.(`\n${name}: ${entry.lesson}, fits ${fits}`);
    const learner = createLearner(options, name, data);
    const history = await learner.fitPlan(entry.lessonFits);
    const seconds = history.reduce((t, h) => t + h.seconds, 0);
    const row: LessonRow = {
      model: name,
      fits,
      accuracy: history[history.length - 1].accuracy,
      lessonAccuracy: entry.lessonAccuracy.notebook,
      lessonBlogAccuracy: entry.lessonAccuracy.blog ?? null,
      epochs: history.length,
      secondsPerEpoch: seconds / history.length,
      backend,
    };
    rows.push(row);
    // Said even under --json (on stderr): a full run takes long, and each model's result counts.
    log?.(
      `${name}: accuracy ${row.accuracy.toFixed(4)} (lesson ${row.lessonAccuracy}), ` +
        `${row.secondsPerEpoch.toFixed(1)} s/epoch`,
    );
    learner.dispose();
    learner.model.dispose();
  }
  printResult(
    options,
    { backend, trainImages: data.trainCount, testImages: data.validCount, rows },
    () => formatLessonTable(rows),
  );
}

/** A Markdown table, ready for the README. */
export function formatLessonTable(rows: LessonRow[]): string {
  const lines = [
    '| model | fits | accuracy | lesson accuracy | epochs | s/epoch | backend |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const blog = r.lessonBlogAccuracy === null ? '' : ` (${r.lessonBlogAccuracy})`;
    const lesson = `${r.lessonAccuracy}${blog}`;
    lines.push(
      `| ${r.model} | \`${r.fits}\` | ${r.accuracy.toFixed(4)} | ${lesson} | ${r.epochs} | ` +
        `${r.secondsPerEpoch.toFixed(1)} | ${r.backend} |`,
    );
  }
  return lines.join('\n');
}
