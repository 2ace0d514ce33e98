/**
 * A small seeded generator: mulberry32, 32 bits of state, uniform floats in [0, 1).
 *
 * Not cryptographic, but fast and the same on every platform, which is what shuffling and
 * augmentation need to be reproducible.
 */
export type Random = () => number;

/** Returns a generator of floats in [0, 1) from a 32-bit `seed` (other numbers are truncated). */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes a base seed with stream indices (such as an epoch number) into a new 32-bit seed, so
 * that epoch k's stream can be rebuilt on its own, without replaying epochs 0..k-1.
 */
export function deriveSeed(seed: number, ...streams: number[]): number {
  let h = splitmix32(seed >>> 0);
  for (const s of streams) h = splitmix32((h ^ splitmix32(s >>> 0)) >>> 0);
  return h;
}

function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A random permutation of 0..n-1 (Fisher-Yates), drawn from `random`. */
export function shuffledIndices(n: number, random: Random): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
