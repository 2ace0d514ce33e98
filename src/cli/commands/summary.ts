import { formatSummary, summarize } from '../../learner/summary';
import { createModel, type ModelName } from '../../models';
import { printResult, startBackend, type CommonOptions } from '../context';

export interface SummaryOptions extends CommonOptions {
  model: ModelName;
}

export async function runSummary(options: SummaryOptions): Promise<void> {
  // Building a model needs a backend for its initial weights; which one does not matter here.
  await startBackend({ ...options, quiet: true });
  const model = createModel(options.model);
  const summary = summarize(model);
  printResult(options, summary, () => formatSummary(summary));
  model.dispose();
}
