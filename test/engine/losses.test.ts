import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { adjustedCrossEntropySum, fitLogits, fitLossSum, logCompensation, logitAdjustment } from '../../src/engine/heads';
import { adjustedCeReference, filler, fitLossReference, normalize, randomMatrix } from './reference';

const counts = [500, 120, 40, 9, 2];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
});

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}

describe('logit adjustment and the compensation factor', () => {
  it('computes log Λ_i = log μ + γ log n_i + log S_N − log(C n_min) from the counts', () => {
    const total = counts.reduce((a, b) => a + b, 0);
    const expected = counts.map((n) => Math.log(0.5 * n ** 0.05 * (total / (counts.length * 2))));
    const actual = logCompensation(counts, 0.5, 0.05);
    expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 5));
  });

  it('makes LA + CF give the same softmax as LA with τ = 1 + γ, for any μ', () => {
    const next = filler(4);
    const logits = Array.from({ length: counts.length }, () => next(5));
    const settings = (overrides: SettingsOverrides) => resolveSettings({ method: 'lift', ...overrides });
    const tauOnly = logitAdjustment(counts, settings({ tau: 1.05 }));
    const expected = softmax(logits.map((z, i) => z + tauOnly[i]!));
    for (const mu of [0.5, 1, 37]) {
      const withCf = logitAdjustment(counts, settings({ components: { cf: true }, gamma: 0.05, mu }));
      const actual = softmax(logits.map((z, i) => z + withCf[i]!));
      actual.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 6));
    }
    // The log-space values themselves do depend on μ (only the softmax is invariant).
    expect(logitAdjustment(counts, settings({ components: { cf: true }, mu: 2 }))[0]).not.toBeCloseTo(logitAdjustment(counts, settings({ components: { cf: true }, mu: 1 }))[0]!, 3);
  });

  it('adds nothing for plain CE and only log Λ for CE with CF', () => {
    const plain = logitAdjustment(counts, resolveSettings({ method: 'lift', loss: 'ce' }));
    expect(Array.from(plain)).toEqual([0, 0, 0, 0, 0]);
    const ceCf = logitAdjustment(counts, resolveSettings({ method: 'lift', loss: 'ce', components: { cf: true }, gamma: 0.1, mu: 0.5 }));
    const logLambda = logCompensation(counts, 0.5, 0.1);
    Array.from(ceCf).forEach((v, i) => expect(v).toBeCloseTo(logLambda[i]!, 6));
  });

  it('refuses a class with zero training images', () => {
    expect(() => logitAdjustment([3, 0, 2], resolveSettings({ method: 'lift' }))).toThrow(/class 1 is 0/);
  });

  it('sums CE(z + τ log n) over the batch as the hand computation does', () => {
    const next = filler(8);
    const logits = randomMatrix(4, counts.length, next, 3);
    const labels = [0, 3, 4, 1];
    const adjustment = Array.from(logitAdjustment(counts, resolveSettings({ method: 'lift' })));
    const actual = tf.tidy(() => adjustedCrossEntropySum(tf.tensor2d(logits), tf.oneHot(tf.tensor1d(labels, 'int32'), counts.length).toFloat() as tf.Tensor2D, tf.tensor1d(adjustment)).dataSync()[0]!);
    expect(actual).toBeCloseTo(adjustedCeReference(logits, labels, adjustment), 4);
  });
});

describe('FIT', () => {
  const d = 5;
  const classes = 3;
  const next = filler(17);
  const f = randomMatrix(2, d, next);
  const fZs = randomMatrix(2, d, next);
  const w = randomMatrix(classes, d, next);
  const wZs = randomMatrix(classes, d, next);
  const labels = [2, 0];
  const adjustment = [Math.log(50), Math.log(10), Math.log(2)];
  const lambdas: [number, number, number] = [0.3, 0.2, 0.4];

  function engineLoss(values: { f: number[][]; w: number[][]; s1: number; s2: number }): { loss: tf.Scalar; vars: tf.Variable[] } {
    const vars = [tf.variable(tf.tensor2d(values.w)), tf.variable(tf.scalar(values.s1)), tf.variable(tf.scalar(values.s2)), tf.variable(tf.tensor2d(values.f))];
    const loss = tf.tidy(() => {
      const logits = fitLogits({
        features: vars[3] as tf.Tensor2D,
        zeroShotFeatures: tf.tensor2d(fZs),
        weights: vars[0] as tf.Tensor2D,
        zeroShotWeightsT: tf.tensor2d(wZs.map(normalize)).transpose(),
        s1: vars[1]!,
        s2: vars[2]!,
        scale: 25,
      });
      return fitLossSum(logits, tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D, tf.tensor1d(adjustment), { lambda1: lambdas[0], lambda2: lambdas[1], lambda3: lambdas[2] });
    });
    return { loss, vars };
  }

  it('computes ℓ(z) + λ1 ℓ(z^v) + λ2 ℓ(z^t) + λ3 ℓ(ẑ) with ẑ = z + s1 z^v + s2 z^t', () => {
    const { loss, vars } = engineLoss({ f, w, s1: 0.6, s2: 1.4 });
    expect(loss.dataSync()[0]).toBeCloseTo(fitLossReference({ f, fZs, w, wZs, s1: 0.6, s2: 1.4, scale: 25, labels, adjustment, lambdas }), 3);
    tf.dispose([loss, ...vars]);
  });

  it('has gradients for s1, s2, W and f that match central finite differences of the hand computation', () => {
    const s1 = 0.6;
    const s2 = 1.4;
    const vars = [tf.variable(tf.tensor2d(w)), tf.variable(tf.scalar(s1)), tf.variable(tf.scalar(s2)), tf.variable(tf.tensor2d(f))];
    const { grads } = tf.variableGrads(() => {
      const logits = fitLogits({
        features: vars[3] as tf.Tensor2D,
        zeroShotFeatures: tf.tensor2d(fZs),
        weights: vars[0] as tf.Tensor2D,
        zeroShotWeightsT: tf.tensor2d(wZs.map(normalize)).transpose(),
        s1: vars[1]!,
        s2: vars[2]!,
        scale: 25,
      });
      return fitLossSum(logits, tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D, tf.tensor1d(adjustment), { lambda1: lambdas[0], lambda2: lambdas[1], lambda3: lambdas[2] });
    }, vars);
    const reference = (p: { f: number[][]; w: number[][]; s1: number; s2: number }) => fitLossReference({ ...p, fZs, wZs, scale: 25, labels, adjustment, lambdas });
    const h = 1e-6;
    const base = { f, w, s1, s2 };
    const numericScalar = (key: 's1' | 's2') => (reference({ ...base, [key]: base[key] + h }) - reference({ ...base, [key]: base[key] - h })) / (2 * h);
    const numericMatrix = (key: 'f' | 'w') =>
      base[key].flatMap((row, i) =>
        row.map((_, j) => {
          const plus = structuredClone(base[key]);
          const minus = structuredClone(base[key]);
          plus[i]![j]! += h;
          minus[i]![j]! -= h;
          return (reference({ ...base, [key]: plus }) - reference({ ...base, [key]: minus })) / (2 * h);
        }),
      );
    const check = (analytic: ArrayLike<number>, numeric: number[], what: string) =>
      numeric.forEach((n, i) => expect(Math.abs(analytic[i]! - n), `${what}[${i}]`).toBeLessThan(5e-3 * (1 + Math.abs(n))));
    check(grads[vars[1]!.name]!.dataSync(), [numericScalar('s1')], 's1');
    check(grads[vars[2]!.name]!.dataSync(), [numericScalar('s2')], 's2');
    check(grads[vars[0]!.name]!.dataSync(), numericMatrix('w'), 'W');
    check(grads[vars[3]!.name]!.dataSync(), numericMatrix('f'), 'f');
    tf.dispose([...Object.values(grads), ...vars]);
  });
});
