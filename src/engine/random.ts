/**
 * A small seeded generator (mulberry32) for adapter initialisation. Each tensor gets its
 * own stream derived from (seed, name), so the initial weights do not depend on the order
 * in which variables are created, and nothing depends on tfjs's global RNG.
 */
import { MULBERRY32_STEP, mulberry32Value } from '../common/mulberry32';

/** FNV-1a of a string, to derive a stream seed from a name. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A generator for the named stream of a run seeded with `seed`. */
  static forStream(seed: number, name: string): SeededRandom {
    return new SeededRandom((hashString(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + MULBERRY32_STEP) >>> 0;
    return mulberry32Value(this.state);
  }

  /** `count` samples from N(0, std²) by Box-Muller. */
  normal(count: number, std: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      const u1 = 1 - this.next(); // (0, 1]: log stays finite
      const u2 = this.next();
      const radius = Math.sqrt(-2 * Math.log(u1)) * std;
      out[i] = radius * Math.cos(2 * Math.PI * u2);
      if (i + 1 < count) out[i + 1] = radius * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }
}
