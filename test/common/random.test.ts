import { describe, expect, it } from 'vitest';
import { createRng, mixSeed32, mixSeedWide, mulberry32, normalFloat32, permutation, shuffleInPlace, streamSeed } from '../../src/common/random';
import { sampleResizedCrop } from '../../src/data/transforms/geometry';

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
    for (const mix of [mixSeed32, mixSeedWide]) {
      const seeds = new Set<number>();
      for (let a = 0; a < 20; a++) for (let b = 0; b < 20; b++) seeds.add(mix(a, b));
      expect(seeds.size).toBe(400);
      expect(mix(1, 2)).not.toBe(mix(2, 1));
    }
  });

  it('refuse to pick from an empty list', () => {
    expect(() => createRng(0).pick([])).toThrow(/non-empty/);
  });
});

/**
 * Values recorded from the modules this one replaced (src/data/rng.ts, src/procedural/rng.ts,
 * src/engine/random.ts) before they were merged: shard orders, long-tail subsets, crops, the
 * procedural datasets and adapter initialisation depend on every bit of them.
 */
describe('random numbers pinned to the values the project was built with', () => {
  it('mixSeedWide (data pipeline) and mixSeed32 (procedural world) keep their own values', () => {
    const tuples = [[0], [1, 2], [2, 1], [7, 3, 12345, 3], [2 ** 40 + 5, 9]];
    expect(tuples.map((t) => mixSeedWide(...t))).toEqual([661984033, 175759182, 3803898357, 123703341, 407649863]);
    expect(tuples.map((t) => mixSeed32(...t))).toEqual([493009611, 4017857470, 3055902382, 1128844841, 4063422996]);
  });

  it('draws the same uniforms, integers, normals, picks, forks and shuffles', () => {
    const u = mulberry32(mixSeedWide(0, 1, 1));
    expect(Array.from({ length: 4 }, () => u())).toEqual([0.8232166743837297, 0.47937942086718976, 0.8511034455150366, 0.4447062488179654]);
    expect(Array.from(permutation(10, createRng(5)))).toEqual([5, 3, 7, 8, 2, 0, 4, 1, 9, 6]);
    expect(shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], createRng(9))).toEqual([6, 0, 2, 8, 3, 4, 5, 9, 7, 1]);
    expect(Array.from(shuffleInPlace(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), createRng(9)))).toEqual([6, 0, 2, 8, 3, 4, 5, 9, 7, 1]);
    const p = createRng(42);
    expect([p.next(), p.uniform(2, 3), p.int(10), p.normal(), p.normal(), p.pick(['a', 'b', 'c', 'd'])]).toEqual([
      0.6011037519201636, 2.4482905589975417, 8, 0.6773277072041898, 1.3254965881566083, 'c',
    ]);
    const fork = p.fork();
    expect([fork.next(), fork.next()]).toEqual([0.01278098183684051, 0.6329291600268334]);
    // The training transform's random-resized crop draws through the same generator.
    expect(sampleResizedCrop({ width: 500, height: 375 }, createRng(77))).toEqual({ top: 25, left: 116, width: 261, height: 339 });
  });

  it("keeps the engine's per-tensor initialisation streams", () => {
    expect(Array.from(normalFloat32(streamSeed(3, 'adapters.0.down.weight'), 5, 0.2))).toEqual([
      0.19432522356510162, -0.05582111328840256, -0.014617343433201313, -0.16267620027065277, -0.24793733656406403,
    ]);
    expect(Array.from(normalFloat32(streamSeed(0, 'x'), 3, 1))).toEqual([0.884733259677887, 0.7249985337257385, 0.5252742171287537]);
  });
});
