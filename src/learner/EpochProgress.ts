import { SingleBar } from 'cli-progress';

/**
 * One throttled progress bar for one pass over the batches, on stderr: batches done, the
 * smoothed loss, images per second and the time left. Cleared when the pass ends, so the
 * epoch's row replaces it. When disabled every method does nothing, which is how it stays
 * out of the way of logs and pipes.
 */
export class EpochProgress {
  private bar: SingleBar | null = null;
  private readonly startMs = performance.now();
  private images = 0;

  constructor(
    enabled: boolean,
    title: string,
    total: number,
    stream: NodeJS.WritableStream = process.stderr,
  ) {
    if (!enabled) return;
    this.bar = new SingleBar({
      stream,
      format:
        `${title} [{bar}] {value}/{total} | loss {loss} | {imagesPerSec} img/s | ` +
        'eta {eta_formatted}',
      barsize: 24,
      fps: 5,
      clearOnComplete: true,
      hideCursor: true,
      etaBuffer: 20,
    });
    this.bar.start(total, 0, { loss: '-', imagesPerSec: '-' });
  }

  /** Records one more batch of `images` images, with the smoothed loss after it. */
  tick(images: number, loss: number): void {
    if (this.bar === null) return;
    this.images += images;
    const seconds = (performance.now() - this.startMs) / 1000;
    this.bar.increment(1, {
      loss: loss.toFixed(4),
      imagesPerSec: seconds > 0 ? Math.round(this.images / seconds) : '-',
    });
  }

  /** Removes the bar; safe to call more than once. */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
