import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';

let backend = '';
beforeAll(async () => {
  backend = await initBackend({ log: () => {} });
  if (backend !== 'wasm') console.warn(`wasm slice kernel tests run on ${backend}: they then check tfjs's own kernels`);
});

/** Plain-loop slice of a row-major array. */
function referenceSlice(data: number[], shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const walk = (axis: number, offset: number): void => {
    if (axis === shape.length) {
      out.push(data[offset]!);
      return;
    }
    for (let i = 0; i < size[axis]!; i++) walk(axis + 1, offset + (begin[axis]! + i) * strides[axis]!);
  };
  walk(0, 0);
  return out;
}

const iota = (n: number): number[] => Array.from({ length: n }, (_, i) => i * 0.5 - 3);

describe('slice, split and unstack on the wasm backend', () => {
  it('slice returns exactly the requested box for ranks 1 to 5, contiguous or strided', () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[10], [3], [4]],
      [[6, 5], [2, 0], [3, 5]],
      [[6, 5], [1, 2], [4, 2]],
      [[4, 3, 5], [1, 0, 2], [2, 3, 3]],
      [[3, 4, 2, 5], [0, 1, 1, 0], [3, 2, 1, 5]],
      [[2, 3, 2, 2, 3], [1, 1, 0, 1, 1], [1, 2, 2, 1, 2]],
    ];
    for (const [shape, begin, size] of cases) {
      const data = iota(shape.reduce((a, b) => a * b, 1));
      const got = tf.slice(tf.tensor(data, shape), begin, size);
      expect(got.shape).toEqual(size);
      expect(Array.from(got.dataSync())).toEqual(referenceSlice(data, shape, begin, size));
    }
  });

  it('split along rows and columns gives the pieces in order, and int32 data survives', () => {
    const data = iota(6 * 8);
    const x = tf.tensor2d(data, [6, 8]);
    const rows = tf.split(x, [1, 2, 3], 0);
    expect(rows.map((r) => Array.from(r.dataSync()))).toEqual([referenceSlice(data, [6, 8], [0, 0], [1, 8]), referenceSlice(data, [6, 8], [1, 0], [2, 8]), referenceSlice(data, [6, 8], [3, 0], [3, 8])]);
    const columns = tf.split(x, 4, 1);
    columns.forEach((c, i) => expect(Array.from(c.dataSync())).toEqual(referenceSlice(data, [6, 8], [0, i * 2], [6, 2])));
    const ids = tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), 3, 1);
    expect(ids.map((t) => [t.dtype, ...Array.from(t.dataSync())])).toEqual([['int32', 1, 4], ['int32', 2, 5], ['int32', 3, 6]]);
  });

  it('unstack removes the axis and keeps each slice', () => {
    const data = iota(2 * 3 * 4);
    const parts = tf.unstack(tf.tensor3d(data, [2, 3, 4]), 1);
    expect(parts).toHaveLength(3);
    parts.forEach((p, i) => {
      expect(p.shape).toEqual([2, 4]);
      expect(Array.from(p.dataSync())).toEqual(referenceSlice(data, [2, 3, 4], [0, i, 0], [2, 1, 4]));
    });
  });

  it('gradients still flow back through split (concat of the piece gradients)', () => {
    const x = tf.tensor2d(iota(12), [3, 4]);
    const dx = tf.grad((input: tf.Tensor) => {
      const [a, b] = tf.split(input, 2, 1);
      return tf.add(tf.sum(tf.mul(a!, 2)), tf.sum(tf.mul(b!, 3)));
    })(x);
    expect(Array.from(dx.dataSync())).toEqual([2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3]);
  });
});
