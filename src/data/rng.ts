/**
 * Seeded randomness for the data pipeline. Every random choice (epoch order, which images a
 * long-tailed subset keeps, each item's crop and flip) comes from a generator seeded by a hash
 * of its coordinates, so a choice never depends on the order in which work happened to run:
 * the same (seed, epoch, item) gives the same crop in any worker, on any machine.
 */
import { mulberry32 } from '../common/mulberry32';

/** A source of uniform floats in [0, 1). */
export type Rng = () => number;

/** murmur3's 32-bit finaliser: a cheap bijective avalanche. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes integer coordinates (seed, epoch, index, a stream tag...) into one 32-bit seed.
 * Each part is folded in with a distinct odd multiplier so (1, 2) and (2, 1) differ.
 * Parts are taken modulo 2^32; callers pass non-negative integers.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    const low = part >>> 0;
    const high = Math.floor(part / 2 ** 32) >>> 0;
    h = fmix32(h ^ Math.imul(low, 0xcc9e2d51));
    h = fmix32(h ^ Math.imul(high + 0x27d4eb2f, 0x1b873593));
  }
  return h;
}

/** mulberry32: small, fast, and good enough for shuffles and augmentation draws. */
export function createRng(seed: number): Rng {
  return mulberry32(seed);
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

/** A uniform float in [low, high). */
export function uniform(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng();
}

/** Fisher-Yates, in place. */
export function shuffleInPlace<T>(items: T[] | Int32Array | Uint32Array, rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  shuffleInPlace(order, rng);
  return order;
}

/**
 * Tags that keep the independent random streams of one (seed, epoch) apart: the epoch order
 * must not correlate with the augmentation draws of any item.
 */
export const RNG_STREAM = {
  epochOrder: 1,
  shuffleBuffer: 2,
  augmentation: 3,
  subset: 4,
  heldOut: 5,
} as const;
