import { writeFileAtomic } from '../../learner/atomicWrite';
import { lrFindSvg, lrFindTerminal } from '../../learner/plot';
import type { ModelName } from '../../models';
import { CliError } from '../CliError';
import {
  createLearner,
  loadData,
  printResult,
  startBackend,
  type CommonOptions,
  type DataOptions,
} from '../context';

export interface LrFindOptions extends CommonOptions, DataOptions {
  model: ModelName;
  startLr: number;
  endLr: number;
  numIt?: number;
  plot?: string;
}

export async function runLrFind(options: LrFindOptions): Promise<void> {
  if (options.startLr >= options.endLr) {
    throw new CliError(
      `Expected --start-lr (${options.startLr}) to be below --end-lr (${options.endLr}); ` +
        'the range test raises the rate from one to the other.',
    );
  }
  if (options.plot && !options.plot.toLowerCase().endsWith('.svg')) {
    throw new CliError(`Expected --plot to name an .svg file, but got '${options.plot}'.`);
  }
  await startBackend(options);
  const data = await loadData(options);
  const learner = createLearner(options, options.model, data);
  const result = await learner.lrFind({
    startLr: options.startLr,
    endLr: options.endLr,
    numIt: options.numIt,
  });
  if (options.plot) {
    await writeFileAtomic(
      options.plot,
      lrFindSvg(result.lrs, result.losses, { suggestedLr: result.suggestedLr }),
    );
  }
  if (!options.json && !options.quiet) {
    process.stderr.write(
      `${lrFindTerminal(result.lrs, result.losses, { suggestedLr: result.suggestedLr })}\n`,
    );
  }
  printResult(
    options,
    {
      lrs: result.lrs,
      losses: result.losses,
      suggestedLr: result.suggestedLr,
      suggestion: result.suggestion,
      stoppedEarly: result.stoppedEarly,
    },
    () =>
      `suggested lr ${result.suggestedLr.toPrecision(2)} (${result.suggestion}); ` +
      `${result.lrs.length} iterations` +
      (result.stoppedEarly ? ', stopped early as the loss blew up' : '') +
      (options.plot ? `; plot in ${options.plot}` : ''),
  );
  learner.dispose();
  learner.model.dispose();
}
