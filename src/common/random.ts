/**
 * The project's one seeded random-number module. Shuffles, long-tail subsets, augmentation
 * draws, the procedural world, random test checkpoints and adapter initialisation all draw
 * from mulberry32 (32-bit state, period 2^32), so a seed fixes their output bit for bit on any
 * machine. Never Math.random where a seed is promised.
 *
 * Seeds for independent streams come from hashing their coordinates. Two hashes exist, each
 * pinned by fixtures and generated data (test/common/random.test.ts): `mixSeedWide` (the data
 * pipeline) and `mixSeed32` (the procedural world). They give different values for the same
 * parts; never swap one for the other. `streamSeed` names a stream by a string (engine init).
 */

/** Added to mulberry32's state before each draw. */
export const MULBERRY32_STEP = 0x6d2b79f5;

/** The uniform in [0, 1) that mulberry32 emits for an (already advanced) state. */
function mulberry32Value(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A bare generator of uniforms in [0, 1) from a seed (the fastest form, for tight loops). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + MULBERRY32_STEP) >>> 0;
    return mulberry32Value(state);
  };
}

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
 * The data loader's seed hash: folds each part's low and high 32 bits (parts up to 2^53)
 * through murmur3's fmix32 with a distinct odd multiplier, so (1, 2) and (2, 1) differ.
 * Callers pass non-negative integers (seed, epoch, item index, a stream tag).
 */
export function mixSeedWide(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    const low = part >>> 0;
    const high = Math.floor(part / 2 ** 32) >>> 0;
    h = fmix32(h ^ Math.imul(low, 0xcc9e2d51));
    h = fmix32(h ^ Math.imul(high + 0x27d4eb2f, 0x1b873593));
  }
  return h;
}

/**
 * The procedural world's seed hash: each part taken modulo 2^32 and folded in with one
 * multiply-xorshift round (cheaper than mixSeedWide, and different values).
 */
export function mixSeed32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** FNV-1a (32-bit) of a string's UTF-16 code units. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The seed of the stream named `name` in a run seeded with `seed` (the engine gives each
 * initialised tensor its own stream, so init does not depend on creation order).
 */
export function streamSeed(seed: number, name: string): number {
  return (fnv1a32(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** A new independent stream derived from this one (for per-item or per-purpose seeds). */
  fork(): Rng;
}

/** A mulberry32 generator with the draws the data loader and the procedural world need. */
export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  let spare = Number.NaN;
  const rng: Rng = {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    // next() ≤ 1 − 2^-32, so floor(next()·n) ≤ n − 1 for every n.
    int: (n) => Math.floor(next() * n),
    normal: () => {
      if (!Number.isNaN(spare)) {
        const value = spare;
        spare = Number.NaN;
        return value;
      }
      // 1 - u keeps the log argument in (0, 1].
      const radius = Math.sqrt(-2 * Math.log(1 - next()));
      const angle = 2 * Math.PI * next();
      spare = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick expected a non-empty list, got an empty one');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    fork: () => createRng(Math.floor(next() * 4294967296)),
  };
  return rng;
}

/** Fisher-Yates, in place; returns the same array. */
export function shuffleInPlace<A extends unknown[] | Int32Array | Uint32Array>(items: A, rng: Rng): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, rng);
}

/**
 * `count` samples of N(0, std²) as float32, by Box-Muller on pairs (cos then sin), the
 * radius scaled by std before the angle: the exact order adapter initialisation has always
 * used, so seeded weights stay bit-identical.
 */
export function normalFloat32(seed: number, count: number, std: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - next(); // (0, 1]: log stays finite
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
