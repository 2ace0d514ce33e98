/**
 * Progress on stderr for the long steps (download, first decode): a cli-progress bar when stderr
 * is a terminal, else a few plain lines, so logs and CI output stay readable.
 */
import { SingleBar } from 'cli-progress';

import type { ProgressEvent } from './ProgressEvent';

/** Shows progress events; `stop` ends the current bar. */
export interface ProgressReporter {
  update(event: ProgressEvent): void;
  stop(): void;
}

/** Options of createProgressReporter. */
export interface ProgressReporterOptions {
  /** Show nothing. */
  quiet?: boolean;
  /** Where to write. Default process.stderr. */
  stream?: NodeJS.WriteStream;
}

const MB = 1e6;

/**
 * A reporter for download and decode progress: a bar with bytes, rate and ETA on a terminal; on
 * anything else one line a quarter of the way; nothing when quiet.
 */
export function createProgressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { update: () => {}, stop: () => {} };
  let phase: ProgressEvent['phase'] | undefined;
  let startMs = 0;
  let bar: SingleBar | undefined;
  let nextQuarter = 0;

  const stop = (): void => {
    bar?.stop();
    bar = undefined;
    phase = undefined;
  };
  const payload = (event: ProgressEvent) => {
    const seconds = Math.max((Date.now() - startMs) / 1000, 1e-3);
    return event.unit === 'bytes'
      ? {
          doneMb: (event.done / MB).toFixed(1),
          totalMb: event.total === undefined ? '?' : (event.total / MB).toFixed(1),
          rateMb: (event.done / MB / seconds).toFixed(1),
        }
      : { rate: Math.round(event.done / seconds) };
  };

  return {
    stop,
    update(event) {
      if (event.phase !== phase) {
        stop();
        phase = event.phase;
        startMs = Date.now();
        nextQuarter = 0;
        if (stream.isTTY) {
          const known = event.total !== undefined;
          const title = event.phase === 'download' ? 'Downloading' : 'Decoding PNGs';
          const format =
            event.unit === 'bytes'
              ? known
                ? `${title} {bar} {percentage}% | {doneMb}/{totalMb} MB | {rateMb} MB/s | ` +
                  'ETA {eta_formatted}'
                : `${title} {doneMb} MB | {rateMb} MB/s`
              : `${title} {bar} {percentage}% | {value}/{total} images | {rate} images/s | ` +
                'ETA {eta_formatted}';
          bar = new SingleBar({ format, stream, barsize: 30, hideCursor: null, fps: 5 });
          bar.start(event.total ?? 1, 0, payload(event));
        }
      }
      if (bar !== undefined) {
        bar.update(event.total === undefined ? 0 : event.done, payload(event));
        if (event.total !== undefined && event.done >= event.total) stop();
        return;
      }
      // Plain lines: at 0%, 25%, 50%, 75% and 100%, or every 25 MB when the size is unknown.
      const fraction =
        event.total === undefined ? event.done / (100 * MB) : event.done / event.total;
      if (fraction * 4 < nextQuarter && !(fraction >= 1)) return;
      nextQuarter = Math.floor(fraction * 4) + 1;
      const p = payload(event);
      const title = event.phase === 'download' ? 'Downloading' : 'Decoding PNGs';
      const line =
        event.unit === 'bytes'
          ? `${title}: ${p.doneMb}/${p.totalMb} MB (${p.rateMb} MB/s)`
          : `${title}: ${event.done}/${event.total} images (${p.rate} images/s)`;
      stream.write(`${line}\n`);
      if (event.total !== undefined && event.done >= event.total) phase = undefined;
    },
  };
}
