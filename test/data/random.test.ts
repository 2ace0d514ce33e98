import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createRandom, deriveSeed, shuffledIndices } from '../../src/data/random';

describe('createRandom', () => {
  it('repeats its stream for a seed and draws floats in [0, 1)', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, createRandom(8)));
  });
});

describe('deriveSeed', () => {
  it('gives a different seed per stream, the same each time', () => {
    const seeds = new Set([0, 1, 2, 3].map((epoch) => deriveSeed(1, epoch)));
    assert.equal(seeds.size, 4);
    assert.equal(deriveSeed(1, 2, 0), deriveSeed(1, 2, 0));
    assert.notEqual(deriveSeed(1, 2, 0), deriveSeed(1, 2, 1));
    assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 2));
  });
});

describe('shuffledIndices', () => {
  it('is a permutation of 0..n-1', () => {
    const order = shuffledIndices(1000, createRandom(3));
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.notDeepEqual(
      [...order.subarray(0, 20)],
      Array.from({ length: 20 }, (_, i) => i),
    );
  });
});
