/** Points fastai's `sched.plot` leaves out at the start of an lrFind curve: its `n_skip`. */
export const PLOT_SKIP_START = 10;
/** Points `sched.plot` leaves out at the end, where the loss blows up: its `n_skip_end`. */
export const PLOT_SKIP_END = 5;

/** Bad input to a plot: rates and losses of different lengths, or a rate that is not positive. */
export class PlotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlotError';
  }
}

export interface TrimOptions {
  /** Points to leave out at the start. Default {@link PLOT_SKIP_START}. */
  skipStart?: number;
  /** Points to leave out at the end. Default {@link PLOT_SKIP_END}. */
  skipEnd?: number;
}

/** The points an lrFind plot shows, and whether the usual trimming had to be given up. */
export interface PlotPoints {
  lrs: number[];
  losses: number[];
  /** True when trimming would have left fewer than two points, so all were kept. */
  untrimmed: boolean;
}

/**
 * Leaves out the first 10 and the last 5 points, as fastai's `sched.plot` does: the first
 * losses are still the smoothing's warm-up, the last the blow-up that ended the sweep. A sweep
 * too short to lose 15 points (one stopped early) is kept whole rather than shown empty.
 *
 * @throws PlotError if the arrays differ in length or a rate is not a positive number.
 */
export function trimForPlot(
  lrs: readonly number[],
  losses: readonly number[],
  options: TrimOptions = {},
): PlotPoints {
  if (lrs.length !== losses.length) {
    throw new PlotError(
      `Expected as many losses as rates, but got ${losses.length} losses for ${lrs.length} ` +
        'rates; pass the lrs and losses of one lrFind result.',
    );
  }
  const bad = lrs.findIndex((lr) => !(lr > 0 && Number.isFinite(lr)));
  if (bad >= 0) {
    throw new PlotError(
      `Expected every rate to be a positive number for the log scale, but lrs[${bad}] is ` +
        `${lrs[bad]}.`,
    );
  }
  const start = options.skipStart ?? PLOT_SKIP_START;
  const end = lrs.length - (options.skipEnd ?? PLOT_SKIP_END);
  if (end - start < 2) return { lrs: [...lrs], losses: [...losses], untrimmed: true };
  return { lrs: lrs.slice(start, end), losses: losses.slice(start, end), untrimmed: false };
}

/** Scales shared by every rendering: a log10 x axis over whole decades, a padded y axis. */
interface Frame {
  points: PlotPoints;
  /** log10 of the axis ends, whole numbers: the decades the axis spans. */
  decadeLo: number;
  decadeHi: number;
  yLo: number;
  yHi: number;
  yTicks: number[];
  /** Decimals the y tick labels need to tell the ticks apart. */
  yDecimals: number;
  /** x and y as fractions of the plot area: 0 at the left and bottom, 1 at the right and top. */
  fx(lr: number): number;
  fy(loss: number): number;
}

function frame(lrs: readonly number[], losses: readonly number[], options: TrimOptions): Frame {
  const points = trimForPlot(lrs, losses, options);
  const logs = points.lrs.map(Math.log10);
  let decadeLo = Math.floor(Math.min(...logs, Infinity));
  let decadeHi = Math.ceil(Math.max(...logs, -Infinity));
  if (!Number.isFinite(decadeLo)) [decadeLo, decadeHi] = [-5, 1]; // no points: lrFind's range
  if (decadeHi === decadeLo) decadeHi += 1;
  const finite = points.losses.filter(Number.isFinite);
  let yLo = finite.length ? Math.min(...finite) : 0;
  let yHi = finite.length ? Math.max(...finite) : 1;
  const pad = (yHi - yLo) * 0.05 || Math.abs(yHi) * 0.05 || 0.5;
  yLo -= pad;
  yHi += pad;
  const { ticks, decimals } = niceTicks(yLo, yHi, 5);
  return {
    points,
    decadeLo,
    decadeHi,
    yLo,
    yHi,
    yTicks: ticks,
    yDecimals: decimals,
    fx: (lr) => (Math.log10(lr) - decadeLo) / (decadeHi - decadeLo),
    fy: (loss) => (loss - yLo) / (yHi - yLo),
  };
}

/** About `count` round tick values (steps of 1, 2 or 5 times a power of ten) within [lo, hi]. */
function niceTicks(lo: number, hi: number, count: number): { ticks: number[]; decimals: number } {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step); i * step <= hi; i++) ticks.push(i * step);
  return { ticks, decimals: Math.max(0, -Math.floor(Math.log10(step))) };
}

/** Runs of consecutive finite points: a NaN or infinite loss breaks the line there. */
function finiteRuns(points: PlotPoints): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [[]];
  points.lrs.forEach((lr, i) => {
    if (Number.isFinite(points.losses[i])) runs[runs.length - 1].push([lr, points.losses[i]]);
    else if (runs[runs.length - 1].length) runs.push([]);
  });
  return runs.filter((r) => r.length > 0);
}

const decadeLabel = (d: number) => `1e${d}`;

export interface LrFindSvgOptions extends TrimOptions {
  /** Image width in pixels. Default 640. */
  width?: number;
  /** Image height in pixels. Default 400. */
  height?: number;
  /** Default 'Learning rate finder'. */
  title?: string;
  /** A rate to mark with a dashed vertical line and its value; NaN or absent for none. */
  suggestedLr?: number;
}

/**
 * The lrFind curve as an SVG image: loss against learning rate on a log10 axis with a tick at
 * every decade, a grid, axis titles and, if given, the suggested rate marked.
 */
export function lrFindSvg(
  lrs: readonly number[],
  losses: readonly number[],
  options: LrFindSvgOptions = {},
): string {
  const f = frame(lrs, losses, options);
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const m = { left: 64, right: 24, top: 40, bottom: 52 }; // room for labels, in pixels
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const px = (lr: number) => round(m.left + f.fx(lr) * plotW);
  const py = (loss: number) => round(m.top + (1 - f.fy(loss)) * plotH);
  const bottom = m.top + plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">` +
      `${escapeXml(options.title ?? 'Learning rate finder')}</text>`,
    '<g class="grid" stroke="#e4e4e4">',
  ];
  const ticksX: string[] = [];
  for (let d = f.decadeLo; d <= f.decadeHi; d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${bottom}"/>`);
    ticksX.push(
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="black"/>`,
      `<text x="${x}" y="${bottom + 18}" text-anchor="middle">${decadeLabel(d)}</text>`,
    );
  }
  const ticksY: string[] = [];
  for (const t of f.yTicks) {
    const y = py(t);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}"/>`);
    ticksY.push(
      `<line x1="${m.left - 5}" y1="${y}" x2="${m.left}" y2="${y}" stroke="black"/>`,
      `<text x="${m.left - 8}" y="${y + 4}" text-anchor="end">${t.toFixed(f.yDecimals)}</text>`,
    );
  }
  out.push(
    '</g>',
    '<g class="axes">',
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" ` +
      'stroke="black"/>',
    ...ticksX,
    ...ticksY,
    `<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">` +
      'learning rate (log scale)</text>',
    `<text x="16" y="${m.top + plotH / 2}" text-anchor="middle" ` +
      `transform="rotate(-90 16 ${m.top + plotH / 2})">loss</text>`,
    '</g>',
  );
  for (const run of finiteRuns(f.points)) {
    const pts = run.map(([lr, loss]) => `${px(lr)},${py(loss)}`).join(' ');
    out.push(
      `<polyline class="loss" fill="none" stroke="#1f77b4" stroke-width="2" points="${pts}"/>`,
    );
  }
  const lr = options.suggestedLr;
  if (lr !== undefined && lr > 0 && Number.isFinite(lr)) {
    const x = px(lr);
    out.push(
      '<g class="suggestion" stroke="#d62728">',
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${bottom}" stroke-dasharray="5 4"/>`,
      `<text x="${x + 4}" y="${m.top + 14}" stroke="none" fill="#d62728">` +
        `suggested lr ${lr.toExponential(2)}</text>`,
      '</g>',
    );
  }
  if (f.points.lrs.length === 0) {
    out.push(
      `<text x="${m.left + plotW / 2}" y="${m.top + plotH / 2}" text-anchor="middle">` +
        'no points to plot</text>',
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface LrFindTerminalOptions extends TrimOptions {
  /** Columns of the plot area, not counting the y labels. Default 60. */
  width?: number;
  /** Rows of the plot area, not counting the title and the x axis. Default 15. */
  height?: number;
  /** A rate to mark with a dotted column; NaN or absent for none. */
  suggestedLr?: number;
  /** Plain ASCII instead of box-drawing characters, for terminals without Unicode. */
  ascii?: boolean;
}

const UNICODE = {
  point: '•',
  rise: '│',
  mark: '┊',
  yTick: '┤',
  yAxis: '│',
  corner: '└',
  xAxis: '─',
  xTick: '┬',
};
const ASCII = {
  point: '*',
  rise: '|',
  mark: ':',
  yTick: '+',
  yAxis: '|',
  corner: '+',
  xAxis: '-',
  xTick: '+',
};

/**
 * The lrFind curve drawn with characters, for a terminal: a title line, `height` rows of plot
 * behind y labels, an x axis with a tick at every decade, and the decade labels under it.
 * Each column shows the loss interpolated at its rate (linearly in log(lr)); a fall steeper
 * than one row per column is drawn as a vertical stroke.
 */
export function lrFindTerminal(
  lrs: readonly number[],
  losses: readonly number[],
  options: LrFindTerminalOptions = {},
): string {
  const width = options.width ?? 60;
  const height = options.height ?? 15;
  if (!(Number.isInteger(width) && width >= 10 && Number.isInteger(height) && height >= 3)) {
    throw new PlotError(
      `Expected a terminal plot of at least 10 columns and 3 rows, but got ${width} x ${height}.`,
    );
  }
  const ch = options.ascii ? ASCII : UNICODE;
  const f = frame(lrs, losses, options);
  const grid = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  const col = (lr: number) => Math.round(f.fx(lr) * (width - 1));
  const row = (loss: number) => Math.round((1 - f.fy(loss)) * (height - 1));

  const lr = options.suggestedLr;
  const marked = lr !== undefined && lr > 0 && Number.isFinite(lr);
  if (marked) for (const r of grid) r[col(lr)] = ch.mark;

  for (const run of finiteRuns(f.points)) {
    let previous: number | null = null;
    for (let c = col(run[0][0]); c <= col(run[run.length - 1][0]); c++) {
      const r = row(interpolateAt(run, f.decadeLo + (c / (width - 1)) * (f.decadeHi - f.decadeLo)));
      if (previous !== null) {
        for (let k = Math.min(previous, r) + 1; k < Math.max(previous, r); k++)
          grid[k][c] = ch.rise;
      }
      grid[r][c] = ch.point;
      previous = r;
    }
  }

  // Labels on the top, middle and bottom rows: enough to read the scale, few enough to fit.
  const labels = new Map<number, string>();
  for (const r of [0, Math.floor((height - 1) / 2), height - 1]) {
    const loss = f.yHi - (r / (height - 1)) * (f.yHi - f.yLo);
    labels.set(r, loss.toFixed(Math.max(2, f.yDecimals)));
  }
  const labelWidth = Math.max(...[...labels.values()].map((l) => l.length));
  const lines = [
    `loss against learning rate (log scale), ${f.points.lrs.length} points` +
      (f.points.untrimmed ? ', too few to skip the first and last' : ''),
  ];
  grid.forEach((cells, r) => {
    const label = labels.get(r);
    lines.push(
      `${(label ?? '').padStart(labelWidth)}${label ? ch.yTick : ch.yAxis}${cells.join('')}`,
    );
  });
  const axis = Array<string>(width).fill(ch.xAxis);
  const under = Array<string>(width + labelWidth + 1).fill(' ');
  let free = 0; // first column of `under` a label may start at without touching the last one
  for (let d = f.decadeLo; d <= f.decadeHi; d++) {
    const c = col(10 ** d);
    axis[c] = ch.xTick;
    const text = decadeLabel(d);
    const at = Math.min(
      Math.max(labelWidth + 1 + c - Math.floor(text.length / 2), free),
      under.length - text.length,
    );
    if (at < free) continue;
    for (let i = 0; i < text.length; i++) under[at + i] = text[i];
    free = at + text.length + 1;
  }
  lines.push(`${' '.repeat(labelWidth)}${ch.corner}${axis.join('')}`, under.join('').trimEnd());
  if (marked) lines.push(`${ch.mark} suggested lr ${lr.toExponential(2)}`);
  return lines.join('\n');
}

/** The loss at log10(lr) = `x` along `run`, linear between neighbouring points. */
function interpolateAt(run: Array<[number, number]>, x: number): number {
  const logs = run.map(([lr]) => Math.log10(lr));
  if (x <= logs[0]) return run[0][1];
  for (let i = 1; i < run.length; i++) {
    if (x <= logs[i]) {
      const t = (x - logs[i - 1]) / (logs[i] - logs[i - 1] || 1);
      return run[i - 1][1] + t * (run[i][1] - run[i - 1][1]);
    }
  }
  return run[run.length - 1][1];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
