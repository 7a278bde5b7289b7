import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { activate, attentionCore, causalMask, FrozenLayerNorm, FrozenLinear, matMul2d } from '../../src/clip/layers';
import { seededRandom } from '../../src/clip/testing';
import * as ref from './reference';

const random = seededRandom(7);
const randomArray = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const toMatrix = (data: ArrayLike<number>, rows: number, cols: number): ref.Matrix => Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => data[r * cols + c]!));
const flat = (m: ref.Matrix): number[] => m.flat();

beforeAll(async () => {
  const backend = await initBackend({ log: () => {} });
  console.log(`layers tests on tfjs backend ${backend}`);
});

describe('FrozenLinear', () => {
  it('computes x·Wᵀ + b as plain loops do, and passes dy·W back to its input', () => {
    const [rows, inp, out] = [5, 7, 4];
    const x = randomArray(rows * inp);
    const weight = randomArray(out * inp);
    const bias = randomArray(out);
    const upstream = randomArray(rows * out);
    const layer = new FrozenLinear({ weight, bias, out, in: inp });
    const xt = tf.tensor2d(x, [rows, inp]);
    const y = layer.apply(xt);
    expect(ref.maxAbsDifference(y.dataSync(), flat(ref.linear(toMatrix(x, rows, inp), weight, bias, out)))).toBeLessThan(1e-5);
    // d/dx Σ y⊙u = u·W: row r, input i = Σ_o u[r][o]·W[o][i].
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input as tf.Tensor2D), tf.tensor2d(upstream, [rows, out]))))(xt);
    const expected: number[] = [];
    for (let r = 0; r < rows; r++) for (let i = 0; i < inp; i++) expected.push(Array.from({ length: out }, (_, o) => upstream[r * out + o]! * weight[o * inp + i]!).reduce((a, b) => a + b, 0));
    expect(ref.maxAbsDifference(dx.dataSync(), expected)).toBeLessThan(1e-5);
    tf.dispose([xt, y, dx]);
    layer.dispose();
  });
});

describe('FrozenLinear with weights larger than one 1024×1024 block', () => {
  it('gives the same output, input gradient and HF-layout weight as plain loops', () => {
    const [rows, inp, out] = [3, 1500, 2100];
    const x = randomArray(rows * inp);
    const weight = randomArray(out * inp, 0.05);
    const bias = randomArray(out);
    const layer = new FrozenLinear({ weight, bias, out, in: inp });
    const xt = tf.tensor2d(x, [rows, inp]);
    expect(ref.maxAbsDifference(layer.apply(xt).dataSync(), flat(ref.linear(toMatrix(x, rows, inp), weight, bias, out)))).toBeLessThan(1e-4);
    // d/dx Σ y = column sums of W: dx[r][i] = Σ_o W[o][i].
    const dx = tf.grad((input: tf.Tensor) => tf.sum(layer.apply(input as tf.Tensor2D)))(xt);
    const columnSums = Array.from({ length: inp }, (_, i) => {
      let sum = 0;
      for (let o = 0; o < out; o++) sum += weight[o * inp + i]!;
      return sum;
    });
    expect(ref.maxAbsDifference(dx.dataSync(), [0, 1, 2].flatMap(() => columnSums))).toBeLessThan(1e-4);
    expect(layer.weightTensor().shape).toEqual([out, inp]);
    expect(ref.maxAbsDifference(layer.weightTensor().dataSync(), weight)).toBe(0);
    layer.dispose();
  });
});

describe('matMul2d', () => {
  it('multiplies like plain loops and returns both input gradients', () => {
    const a = randomArray(3 * 4);
    const b = randomArray(4 * 2);
    const [at, bt] = [tf.tensor2d(a, [3, 4]), tf.tensor2d(b, [4, 2])];
    const product: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) product.push([0, 1, 2, 3].reduce((s, k) => s + a[i * 4 + k]! * b[k * 2 + j]!, 0));
    expect(ref.maxAbsDifference(matMul2d(at, bt).dataSync(), product)).toBeLessThan(1e-5);
    // With upstream gradient of ones: dA[i][k] = Σ_j B[k][j], dB[k][j] = Σ_i A[i][k].
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(matMul2d(x as tf.Tensor2D, y as tf.Tensor2D)))([at, bt]);
    const rowSumsB = [0, 1, 2, 3].map((k) => b[k * 2]! + b[k * 2 + 1]!);
    const colSumsA = [0, 1, 2, 3].map((k) => a[k]! + a[4 + k]! + a[8 + k]!);
    expect(ref.maxAbsDifference(da!.dataSync(), [0, 1, 2].flatMap(() => rowSumsB))).toBeLessThan(1e-5);
    expect(ref.maxAbsDifference(db!.dataSync(), colSumsA.flatMap((s) => [s, s]))).toBeLessThan(1e-5);
  });
});

describe('FrozenLayerNorm', () => {
  it('normalises each row like plain loops, with the configured eps', () => {
    const [rows, width, eps] = [4, 6, 1e-2];
    const x = randomArray(rows * width, 3);
    const gamma = randomArray(width);
    const beta = randomArray(width);
    const norm = new FrozenLayerNorm(gamma, beta, eps);
    const y = norm.apply(tf.tensor2d(x, [rows, width]));
    expect(ref.maxAbsDifference(y.dataSync(), flat(ref.layerNorm(toMatrix(x, rows, width), gamma, beta, eps)))).toBeLessThan(1e-5);
  });

  it('gives the input gradient that central finite differences of the plain-loop LayerNorm give', () => {
    const [rows, width, eps] = [2, 5, 1e-5];
    const x = randomArray(rows * width, 2);
    const gamma = randomArray(width);
    const beta = randomArray(width);
    const upstream = randomArray(rows * width);
    const norm = new FrozenLayerNorm(gamma, beta, eps);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(norm.apply(input as tf.Tensor2D), tf.tensor2d(upstream, [rows, width]))))(tf.tensor2d(x, [rows, width]));
    const objective = (values: number[]): number => flat(ref.layerNorm(toMatrix(values, rows, width), gamma, beta, eps)).reduce((s, v, i) => s + v * upstream[i]!, 0);
    const h = 1e-4;
    const numeric = Array.from(x, (_, i) => {
      const plus = Array.from(x);
      const minus = Array.from(x);
      plus[i]! += h;
      minus[i]! -= h;
      return (objective(plus) - objective(minus)) / (2 * h);
    });
    expect(ref.maxAbsDifference(dx.dataSync(), numeric)).toBeLessThan(1e-3);
  });
});

describe('activations', () => {
  it('computes quick_gelu x·σ(1.702x) and the erf gelu like plain loops', () => {
    const x = Float32Array.from([-4, -1.5, -0.3, 0, 0.2, 1, 3.7]);
    const m = toMatrix(x, 1, x.length);
    for (const kind of ['quick_gelu', 'gelu'] as const) {
      const y = activate(tf.tensor2d(x, [1, x.length]), kind);
      expect(ref.maxAbsDifference(y.dataSync(), ref.activation(m, kind)[0]!)).toBeLessThan(1e-5);
    }
    // Spot values by hand: quick_gelu(1) = 1/(1+e^-1.702) ≈ 0.845796, gelu(1) = Φ(1) ≈ 0.841345.
    expect(activate(tf.tensor2d([[1]]), 'quick_gelu').dataSync()[0]).toBeCloseTo(0.845796, 5);
    expect(activate(tf.tensor2d([[1]]), 'gelu').dataSync()[0]).toBeCloseTo(0.841345, 5);
  });
});

describe('attentionCore', () => {
  const runCase = (batch: number, tokens: number, heads: number, width: number, causal: boolean): number => {
    const q = randomArray(batch * tokens * width);
    const k = randomArray(batch * tokens * width);
    const v = randomArray(batch * tokens * width);
    const scale = 1 / Math.sqrt(width / heads);
    const qkv: number[] = [];
    for (let r = 0; r < batch * tokens; r++) {
      for (let c = 0; c < width; c++) qkv.push(q[r * width + c]! * scale);
      for (let c = 0; c < width; c++) qkv.push(k[r * width + c]!);
      for (let c = 0; c < width; c++) qkv.push(v[r * width + c]!);
    }
    const mask = causal ? causalMask(tokens) : null;
    const out = attentionCore(tf.tensor2d(qkv, [batch * tokens, 3 * width]), { batch, tokens, heads, mask }).dataSync();
    const expected: number[] = [];
    for (let b = 0; b < batch; b++) {
      const part = (data: Float32Array): ref.Matrix => toMatrix(data.subarray(b * tokens * width, (b + 1) * tokens * width), tokens, width);
      expected.push(...flat(ref.attention(part(q), part(k), part(v), heads, causal)));
    }
    return ref.maxAbsDifference(out, expected);
  };

  it('matches plain-loop softmax attention with one head, non-causal', () => {
    expect(runCase(1, 5, 1, 4, false)).toBeLessThan(1e-5);
  });

  it('matches plain-loop attention with one head and a causal mask', () => {
    expect(runCase(1, 6, 1, 4, true)).toBeLessThan(1e-5);
  });

  it('keeps samples and heads apart with several of each', () => {
    expect(runCase(3, 4, 2, 6, false)).toBeLessThan(1e-5);
    expect(runCase(2, 5, 3, 6, true)).toBeLessThan(1e-5);
  });
});
