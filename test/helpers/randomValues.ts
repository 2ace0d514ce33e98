/**
 * Deterministic values in [-1, 1) from a linear congruential generator: the same inputs on
 * every backend and every run, without touching TensorFlow.js's own random state.
 */
export function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
