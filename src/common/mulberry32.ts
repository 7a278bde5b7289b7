/**
 * mulberry32: the project's one seeded PRNG (32-bit state, period 2^32). Shuffles, samples,
 * augmentation draws, random test checkpoints and the procedural world all use it, so a seed
 * fixes their output bit for bit on any machine. Never Math.random where a seed is promised.
 */

/** Added to the state before each draw. */
export const MULBERRY32_STEP = 0x6d2b79f5;

/** The uniform in [0, 1) that mulberry32 emits for an (already advanced) state. */
export function mulberry32Value(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A generator of uniforms in [0, 1) from a seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + MULBERRY32_STEP) >>> 0;
    return mulberry32Value(state);
  };
}
