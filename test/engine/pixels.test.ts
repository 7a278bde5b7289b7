import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { pixelTensor } from '../../src/engine/model';

describe('pixelTensor', () => {
  beforeAll(async () => {
    // The cpu backend keeps a reference to the values it is given: the case the copy exists for.
    await tf.setBackend('cpu');
  });

  it('copies a view of shared memory, so the tensor neither aliases the batch nor sees later writes', () => {
    const shared = new Float32Array(new SharedArrayBuffer(2 * 2 * 2 * 3 * 4 * 2));
    shared.forEach((_, i) => (shared[i] = i));
    const view = shared.subarray(24, 48); // the second half, as step.ts takes a micro-batch out of a batch
    const tensor = pixelTensor(view, [2, 2, 2, 3]);
    shared.fill(-1);
    expect(Array.from(tensor.dataSync())).toEqual(Array.from({ length: 24 }, (_, i) => 24 + i));
    expect(tensor.shape).toEqual([2, 2, 2, 3]);
    tensor.dispose();
  });

  it('passes a plain array through unchanged', () => {
    const plain = Float32Array.from({ length: 12 }, (_, i) => i / 2);
    const tensor = pixelTensor(plain, [1, 2, 2, 3]);
    expect(Array.from(tensor.dataSync())).toEqual(Array.from(plain));
    tensor.dispose();
  });
});
