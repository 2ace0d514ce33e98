// The lrFind plots: fastai's trimming, an SVG that parses and draws every kept point where it
// belongs, and a terminal plot of the size asked for.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  lrFindSvg,
  lrFindTerminal,
  PLOT_SKIP_END,
  PLOT_SKIP_START,
  PlotError,
  trimForPlot,
} from '../../src/learner/plot';

/** An lrFind-like sweep: `n` rates growing geometrically from 1e-5 to 10. */
function sweep(n: number, loss: (log10Lr: number, i: number) => number) {
  const lrs = Array.from({ length: n }, (_, i) => 1e-5 * 1e6 ** (i / (n - 1)));
  return { lrs, losses: lrs.map((lr, i) => loss(Math.log10(lr), i)) };
}

/** A falling, then rising curve, as lrFind gives. */
const bowl = sweep(
  100,
  (x) => 2.3 - 1 / (1 + Math.exp(-3 * (x + 2.5))) + Math.max(0, x + 0.5) ** 2,
);
/** A strictly falling curve. */
const falling = sweep(100, (_, i) => 3 - i * 0.01);

/** Checks that every tag opened is closed in order; returns the element names seen. */
function parseTags(svg: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  const tag = /<(\/?)([a-z]+)((?:\s+[A-Za-z_:][-\w:.]*="[^"<]*")*)\s*(\/?)>/g;
  let tags = 0;
  for (const [, closing, name, , selfClosing] of svg.matchAll(tag)) {
    tags++;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the open element`);
    else {
      seen.push(name);
      if (!selfClosing) stack.push(name);
    }
  }
  assert.equal(tags, svg.split('<').length - 1, 'every < starts a well-formed tag');
  assert.deepEqual(stack, [], 'every element is closed');
  // Between tags only text: no stray '>' or an '&' that does not start an entity.
  assert.doesNotMatch(svg.replace(tag, ''), />|&(?!#\d+;)/);
  return seen;
}

function polylines(svg: string): Array<Array<[number, number]>> {
  return [...svg.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map(([, pts]) =>
    pts.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  );
}

describe('trimForPlot', () => {
  it("leaves out the first 10 and last 5 points, as fastai's sched.plot does", () => {
    assert.equal(PLOT_SKIP_START, 10);
    assert.equal(PLOT_SKIP_END, 5);
    const t = trimForPlot(bowl.lrs, bowl.losses);
    assert.equal(t.lrs.length, 85);
    assert.equal(t.lrs[0], bowl.lrs[10]);
    assert.equal(t.losses[84], bowl.losses[94]);
    assert.equal(t.untrimmed, false);
  });

  it('keeps a sweep too short to trim whole', () => {
    const t = trimForPlot([1e-3, 1e-2, 1e-1], [2, 1, 3]);
    assert.deepEqual(t, { lrs: [1e-3, 1e-2, 1e-1], losses: [2, 1, 3], untrimmed: true });
  });

  it('takes other skip counts', () => {
    assert.equal(trimForPlot(bowl.lrs, bowl.losses, { skipStart: 0, skipEnd: 0 }).lrs.length, 100);
  });

  it('rejects mismatched arrays and rates that a log axis cannot show', () => {
    assert.throws(() => trimForPlot([1, 2], [1]), PlotError);
    assert.throws(() => trimForPlot([0.1, 0, 1], [1, 2, 3]), /lrs\[1\] is 0/);
  });
});

describe('lrFindSvg', () => {
  it('is well-formed SVG with a title, both axes and decade labels 1e-5 to 1e1', () => {
    const svg = lrFindSvg(bowl.lrs, bowl.losses, { title: 'convbn <lr find>' });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="640" height="400"/);
    assert.match(svg, /<\/svg>\n$/);
    const tags = parseTags(svg);
    assert.ok(tags.includes('polyline') && tags.includes('text'));
    assert.ok(svg.includes('convbn &#60;lr find&#62;'), 'the title is escaped');
    for (let d = -5; d <= 1; d++) assert.ok(svg.includes(`>1e${d}</text>`), `label 1e${d}`);
    assert.ok(svg.includes('learning rate (log scale)') && svg.includes('>loss</text>'));
  });

  it('draws one point per kept iteration, inside the plot area', () => {
    const lines = polylines(lrFindSvg(bowl.lrs, bowl.losses));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].length, bowl.lrs.length - PLOT_SKIP_START - PLOT_SKIP_END);
    for (const [x, y] of lines[0]) assert.ok(x >= 64 && x <= 616 && y >= 40 && y <= 348);
  });

  it('draws a falling loss as a line going right and down', () => {
    const [line] = polylines(lrFindSvg(falling.lrs, falling.losses));
    for (let i = 1; i < line.length; i++) {
      assert.ok(line[i][0] > line[i - 1][0], `x grows at point ${i}`);
      assert.ok(line[i][1] > line[i - 1][1], `y grows (downwards) at point ${i}`);
    }
  });

  it('places rates on the log axis: 1e-3 half-way between the 1e-5 and 1e-1 ticks', () => {
    const lrs = [1e-5, 1e-3, 1e-1];
    const [line] = polylines(lrFindSvg(lrs, [1, 2, 3], { skipStart: 0, skipEnd: 0 }));
    assert.equal(line[1][0] - line[0][0], line[2][0] - line[1][0]);
  });

  it('marks a suggested rate, and none when it is NaN', () => {
    const svg = lrFindSvg(bowl.lrs, bowl.losses, { suggestedLr: 3e-3 });
    assert.match(svg, /class="suggestion"/);
    assert.ok(svg.includes('suggested lr 3.00e-3'));
    assert.doesNotMatch(lrFindSvg(bowl.lrs, bowl.losses, { suggestedLr: NaN }), /suggestion/);
  });

  it('breaks the line at a loss that is not finite', () => {
    const losses = [...bowl.losses];
    losses[50] = NaN;
    const lines = polylines(lrFindSvg(bowl.lrs, losses));
    assert.deepEqual(
      lines.map((l) => l.length),
      [50 - PLOT_SKIP_START, 100 - PLOT_SKIP_END - 51],
    );
  });

  it('still draws axes when there is nothing to plot', () => {
    const svg = lrFindSvg([], []);
    parseTags(svg);
    assert.ok(svg.includes('no points to plot'));
  });
});

describe('lrFindTerminal', () => {
  const plotRows = (text: string) => text.split('\n').slice(1, -2);

  it('has a title, `height` rows of `width` columns, an x axis and its labels', () => {
    for (const [width, height] of [
      [60, 15],
      [30, 6],
    ]) {
      const text = lrFindTerminal(bowl.lrs, bowl.losses, { width, height });
      const lines = text.split('\n');
      assert.equal(lines.length, 1 + height + 2);
      assert.match(lines[0], /^loss against learning rate \(log scale\), 85 points$/);
      const labelWidth = lines[1].indexOf('┤');
      assert.ok(labelWidth > 0, lines[1]);
      for (const row of plotRows(text)) assert.equal(row.length, labelWidth + 1 + width);
      assert.equal(lines[height + 1].length, labelWidth + 1 + width, 'x axis');
      assert.equal(lines[height + 1][labelWidth], '└');
      assert.match(lines[height + 2], /1e-5.*1e-4.*1e-3.*1e-2.*1e-1.*1e0.*1e1/);
    }
  });

  it('uses the defaults 60 x 15', () => {
    const lines = lrFindTerminal(bowl.lrs, bowl.losses).split('\n');
    assert.equal(lines.length, 18);
    assert.equal(lines[16].length - lines[16].indexOf('└') - 1, 60);
  });

  it('draws a falling loss as points that never climb', () => {
    const text = lrFindTerminal(falling.lrs, falling.losses, { width: 40, height: 10 });
    const rows = plotRows(text).map((r) => r.slice(r.length - 40));
    let last = -1;
    let columns = 0;
    for (let c = 0; c < 40; c++) {
      const r = rows.findIndex((row) => row[c] === '•');
      if (r < 0) continue;
      columns++;
      assert.ok(r >= last, `column ${c}: row ${r} after ${last}\n${text}`);
      last = r;
    }
    assert.ok(columns > 30, `most columns hold a point\n${text}`);
    assert.equal(rows[0].trim()[0], '•', 'the highest loss is on the top row');
    assert.equal(last, 9, 'the lowest loss is on the bottom row');
  });

  it('marks a suggested rate and can draw in plain ASCII', () => {
    const text = lrFindTerminal(bowl.lrs, bowl.losses, { suggestedLr: 1e-3, ascii: true });
    assert.match(text, /\n: suggested lr 1\.00e-3$/);
    assert.doesNotMatch(text, /[^\x00-\x7f]/);
  });

  it('rejects a plot too small to read', () => {
    assert.throws(() => lrFindTerminal(bowl.lrs, bowl.losses, { width: 5 }), PlotError);
  });
});
