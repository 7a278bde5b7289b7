import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { cosineLearningRate, GradientAccumulator, SgdMomentum } from '../../src/engine/step';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
});

describe('SGD with momentum and weight decay', () => {
  it('follows PyTorch SGD: g += wd·w; v = m·v + g; w -= lr·v, over several steps and learning rates', async () => {
    const start = [0.5, -1.2, 2];
    const variable = tf.variable(tf.tensor1d(start));
    const optimizer = new SgdMomentum([{ name: 'w', variable }], { learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 });
    const gradients = [[1, 2, -1], [0.5, -0.5, 0.25], [-2, 1, 0]];
    const rates = [0.1, 0.05, 0.02];
    let w = [...start];
    let v = [0, 0, 0];
    for (let step = 0; step < 3; step++) {
      optimizer.setLearningRate(rates[step]!);
      optimizer.step([tf.tensor1d(gradients[step]!)]);
      const g = gradients[step]!.map((gi, i) => gi + 0.01 * w[i]!);
      v = v.map((vi, i) => 0.9 * vi + g[i]!);
      w = w.map((wi, i) => wi - rates[step]! * v[i]!);
    }
    Array.from(variable.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(w[i]!, 5));
    const state = await optimizer.state();
    expect(state.iterations).toBe(3);
    Array.from(state.slots[0]!).forEach((value, i) => expect(value).toBeCloseTo(v[i]!, 5));
    optimizer.dispose();
    variable.dispose();
  });

  it('continues identically after its state is restored into a new optimizer', async () => {
    const make = () => tf.variable(tf.tensor1d([1, 2]));
    const a = make();
    const first = new SgdMomentum([{ name: 'w', variable: a }], { learningRate: 0.1, momentum: 0.9, weightDecay: 0 });
    first.step([tf.tensor1d([1, -1])]);
    const saved = await first.state();
    const b = tf.variable(a.clone());
    const second = new SgdMomentum([{ name: 'w', variable: b }], { learningRate: 0.1, momentum: 0.9, weightDecay: 0 });
    await second.restore(saved);
    first.step([tf.tensor1d([0.5, 0.5])]);
    second.step([tf.tensor1d([0.5, 0.5])]);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    first.dispose();
    second.dispose();
    tf.dispose([a, b]);
  });

  it('averages accumulated micro-batch gradient sums over the batch size', () => {
    const accumulator = new GradientAccumulator();
    accumulator.add([tf.tensor1d([2, 4])]);
    accumulator.add([tf.tensor1d([1, -1])]);
    const [mean] = accumulator.takeMean(3);
    expect(Array.from(mean!.dataSync())).toEqual([1, 1]);
    mean!.dispose();
  });
});

describe('cosine schedule', () => {
  it('steps once per epoch from lr to near 0: lr·(1 + cos(π e/E))/2', () => {
    const rates = Array.from({ length: 10 }, (_, e) => cosineLearningRate(0.01, e, 10));
    expect(rates[0]).toBe(0.01);
    expect(rates[5]).toBeCloseTo(0.005, 10);
    expect(rates[9]).toBeCloseTo(0.01 * (1 + Math.cos((Math.PI * 9) / 10)) / 2, 12);
    for (let e = 1; e < 10; e++) expect(rates[e]!).toBeLessThan(rates[e - 1]!);
  });
});
