import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { createAdaptFormer, createSgAdapter, type BlockAdapter } from '../../src/engine/adapters';
import { adaptFormerReference, filler, randomMatrix, sgAdapterReference, type Matrix, type SgParams } from './reference';

const d = 6;
const r = 2;
const tokens = 3;

function setVariable(adapter: BlockAdapter, short: string, values: number[] | Matrix | number): void {
  const found = adapter.variables.find((v) => v.name === `adapters.${adapter.layer}.${short}`);
  if (!found) throw new Error(`no variable ${short}`);
  const flat = typeof values === 'number' ? [values] : (values as (number | number[])[]).flat();
  found.variable.assign(tf.tensor(flat, found.variable.shape));
}

function randomSgParams(seed: number, projection: boolean): SgParams {
  const next = filler(seed);
  const vector = (n: number, scale = 0.5) => Array.from({ length: n }, () => next(scale));
  return {
    gamma: vector(d).map((v) => 1 + v),
    beta: vector(d),
    proj: projection ? { weight: randomMatrix(d, d, next, 0.6), bias: vector(d) } : null,
    downV: { weight: randomMatrix(d, r, next), bias: vector(r) },
    downVt: { weight: randomMatrix(d, r, next), bias: vector(r) },
    downT: { weight: randomMatrix(d, r, next), bias: vector(r) },
    up: { weight: randomMatrix(2 * r, d, next), bias: vector(d) },
    scaleVt: 0.7,
    scale: 1.3,
  };
}

function loadSgParams(adapter: BlockAdapter, p: SgParams): void {
  setVariable(adapter, 'ln.gamma', p.gamma);
  setVariable(adapter, 'ln.beta', p.beta);
  if (p.proj) {
    setVariable(adapter, 'proj.weight', p.proj.weight);
    setVariable(adapter, 'proj.bias', p.proj.bias);
  }
  for (const [short, value] of [['down_v', p.downV], ['down_vt', p.downVt], ['down_t', p.downT], ['up', p.up]] as const) {
    setVariable(adapter, `${short}.weight`, value.weight);
    setVariable(adapter, `${short}.bias`, value.bias);
  }
  setVariable(adapter, 'scale_vt', p.scaleVt);
  setVariable(adapter, 'scale', p.scale);
}

function expectClose(actual: ArrayLike<number>, expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tolerance * (1 + Math.abs(expected[i]!)));
}

const shape = { layer: 0, width: d, bottleneck: r, scaleInit: 1, seed: 7 };

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
});

describe('SG-Adapter', () => {
  for (const projection of [true, false]) {
    it(`computes Eqs. 7-8 on every token ${projection ? 'with' : 'without'} W_proj, as a per-token hand computation does`, () => {
      const adapter = createSgAdapter({ ...shape, alpha: 0.3, svtInit: 1, projection });
      const params = randomSgParams(11, projection);
      loadSgParams(adapter, params);
      const next = filler(5);
      const x = randomMatrix(tokens, d, next, 2);
      const guidance = randomMatrix(1, d, next)[0]!;
      const out = tf.tidy(() => adapter.apply(tf.tensor2d(x), tf.tensor2d([guidance])).dataSync());
      expectClose(out, sgAdapterReference(x, guidance, params, 0.3).flat(), 1e-4);
      adapter.variables.forEach((v) => v.variable.dispose());
    });
  }

  it('adds exactly zero at initialisation because W_up starts at 0', () => {
    const adapter = createSgAdapter({ ...shape, alpha: 0.1, svtInit: 1, projection: true });
    const next = filler(3);
    const out = tf.tidy(() => adapter.apply(tf.tensor2d(randomMatrix(tokens, d, next, 3)), tf.tensor2d(randomMatrix(1, d, next))).dataSync());
    expect(Array.from(out).every((v) => v === 0)).toBe(true);
    adapter.variables.forEach((v) => v.variable.dispose());
  });

  it('initialises W_proj to the identity, s and s_vt to their settings and the down projections with std 1/sqrt(3 d)', () => {
    const adapter = createSgAdapter({ ...shape, width: 64, bottleneck: 32, alpha: 0.1, svtInit: 0.5, projection: true, scaleInit: 2 });
    const value = (short: string) => Array.from(adapter.variables.find((v) => v.name === `adapters.0.${short}`)!.variable.dataSync());
    const proj = value('proj.weight');
    expect(proj.every((v, i) => v === (Math.floor(i / 64) === i % 64 ? 1 : 0))).toBe(true);
    expect(value('scale_vt')).toEqual([0.5]);
    expect(value('scale')).toEqual([2]);
    const down = [...value('down_v.weight'), ...value('down_vt.weight'), ...value('down_t.weight')];
    const std = Math.sqrt(down.reduce((a, v) => a + v * v, 0) / down.length);
    expect(std).toBeGreaterThan((1 / Math.sqrt(3 * 64)) * 0.93);
    expect(std).toBeLessThan((1 / Math.sqrt(3 * 64)) * 1.07);
    expect(value('down_v.weight')).not.toEqual(value('down_vt.weight'));
    adapter.variables.forEach((v) => v.variable.dispose());
  });

  it('has gradients that match central finite differences of the hand computation for every parameter', () => {
    const adapter = createSgAdapter({ ...shape, alpha: 0.3, svtInit: 1, projection: true });
    const params = randomSgParams(21, true);
    loadSgParams(adapter, params);
    const next = filler(9);
    const x = randomMatrix(tokens, d, next, 2);
    const guidance = randomMatrix(1, d, next)[0]!;
    const weights = randomMatrix(tokens, d, next); // loss = Σ out ⊙ weights
    const lossOf = (p: SgParams) => sgAdapterReference(x, guidance, p, 0.3).flat().reduce((a, v, i) => a + v * weights.flat()[i]!, 0);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(adapter.apply(tf.tensor2d(x), tf.tensor2d([guidance])), tf.tensor2d(weights))) as tf.Scalar,
      adapter.variables.map((v) => v.variable),
    );
    // Perturb each parameter of the plain-array model and compare.
    const paths: [string, (p: SgParams) => number[]][] = [
      ['ln.gamma', (p) => p.gamma],
      ['ln.beta', (p) => p.beta],
      ['proj.weight', (p) => p.proj!.weight.flat()],
      ['proj.bias', (p) => p.proj!.bias],
      ['down_v.weight', (p) => p.downV.weight.flat()],
      ['down_vt.bias', (p) => p.downVt.bias],
      ['down_t.weight', (p) => p.downT.weight.flat()],
      ['up.weight', (p) => p.up.weight.flat()],
      ['up.bias', (p) => p.up.bias],
      ['scale_vt', (p) => [p.scaleVt]],
      ['scale', (p) => [p.scale]],
    ];
    const rebuild = (short: string, flat: number[]): SgParams => {
      const p = structuredClone(params);
      const reshape = (m: number[][]) => m.map((row, i) => row.map((_, j) => flat[i * row.length + j]!));
      if (short === 'ln.gamma') p.gamma = flat;
      else if (short === 'ln.beta') p.beta = flat;
      else if (short === 'proj.weight') p.proj!.weight = reshape(p.proj!.weight);
      else if (short === 'proj.bias') p.proj!.bias = flat;
      else if (short === 'down_v.weight') p.downV.weight = reshape(p.downV.weight);
      else if (short === 'down_vt.bias') p.downVt.bias = flat;
      else if (short === 'down_t.weight') p.downT.weight = reshape(p.downT.weight);
      else if (short === 'up.weight') p.up.weight = reshape(p.up.weight);
      else if (short === 'up.bias') p.up.bias = flat;
      else if (short === 'scale_vt') p.scaleVt = flat[0]!;
      else p.scale = flat[0]!;
      return p;
    };
    const h = 1e-5;
    for (const [short, get] of paths) {
      const base = get(params);
      const numeric = base.map((_, i) => {
        const plus = [...base];
        const minus = [...base];
        plus[i]! += h;
        minus[i]! -= h;
        return (lossOf(rebuild(short, plus)) - lossOf(rebuild(short, minus))) / (2 * h);
      });
      const name = adapter.variables.find((v) => v.name === `adapters.0.${short}`)!.variable.name;
      const analytic = Array.from(grads[name]!.dataSync());
      for (let i = 0; i < numeric.length; i++) expect(Math.abs(analytic[i]! - numeric[i]!), `${short}[${i}]`).toBeLessThan(2e-3 * (1 + Math.abs(numeric[i]!)));
    }
    tf.dispose(Object.values(grads));
    adapter.variables.forEach((v) => v.variable.dispose());
  });
});

describe('AdaptFormer adapter', () => {
  it('computes s · up(ReLU(down(LN_a(x)))) as the hand computation does', () => {
    const adapter = createAdaptFormer(shape);
    const next = filler(13);
    const params = {
      gamma: randomMatrix(1, d, next)[0]!.map((v) => 1 + v * 0.5),
      beta: randomMatrix(1, d, next, 0.5)[0]!,
      down: { weight: randomMatrix(d, r, next), bias: randomMatrix(1, r, next, 0.5)[0]! },
      up: { weight: randomMatrix(r, d, next), bias: randomMatrix(1, d, next, 0.5)[0]! },
      scale: 0.8,
    };
    setVariable(adapter, 'ln.gamma', params.gamma);
    setVariable(adapter, 'ln.beta', params.beta);
    setVariable(adapter, 'down.weight', params.down.weight);
    setVariable(adapter, 'down.bias', params.down.bias);
    setVariable(adapter, 'up.weight', params.up.weight);
    setVariable(adapter, 'up.bias', params.up.bias);
    setVariable(adapter, 'scale', params.scale);
    const x = randomMatrix(tokens, d, next, 2);
    const out = tf.tidy(() => adapter.apply(tf.tensor2d(x), null).dataSync());
    expectClose(out, adaptFormerReference(x, params).flat(), 1e-4);
    adapter.variables.forEach((v) => v.variable.dispose());
  });
});
