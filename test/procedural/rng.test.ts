import { describe, expect, it } from 'vitest';
import { createRng, mixSeed, shuffleInPlace } from '../../src/procedural/rng';

describe('seeded random numbers', () => {
  it('repeat exactly for the same seed and differ for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const first = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(first);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(first);
  });

  it('match the published mulberry32 sequence for seed 0', () => {
    // Reference: the mulberry32 algorithm evaluated by hand-written plain integer arithmetic.
    let state = 0;
    const reference = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const rng = createRng(0);
    for (let i = 0; i < 10; i++) expect(rng.next()).toBe(reference());
  });

  it('draw uniforms in [0, 1) with mean 1/2 and normals with mean 0 and variance 1', () => {
    const rng = createRng(7);
    const n = 20000;
    let sumU = 0;
    let sumN = 0;
    let sumN2 = 0;
    let minU = 1;
    let maxU = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      sumU += u;
      const z = rng.normal();
      sumN += z;
      sumN2 += z * z;
    }
    expect(minU).toBeGreaterThanOrEqual(0);
    expect(maxU).toBeLessThan(1);
    expect(sumU / n).toBeCloseTo(0.5, 1);
    expect(sumN / n).toBeCloseTo(0, 1);
    expect(sumN2 / n).toBeCloseTo(1, 1);
  });

  it('draw every integer of [0, n) and nothing outside', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(rng.int(6));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('shuffle into a permutation of the input', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = shuffleInPlace([...items], createRng(1));
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
  });

  it('mix seeds so that neighbouring tuples give unrelated seeds', () => {
    const seeds = new Set<number>();
    for (let a = 0; a < 20; a++) for (let b = 0; b < 20; b++) seeds.add(mixSeed(a, b));
    expect(seeds.size).toBe(400);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
  });

  it('refuse to pick from an empty list', () => {
    expect(() => createRng(0).pick([])).toThrow(/non-empty/);
  });
});
