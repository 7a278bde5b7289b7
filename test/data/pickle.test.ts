import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NumpyArray, PickleTuple, readPickle } from '../../src/data/ingest/pickle';
import { py2SplitPickle } from './cifar-fixtures';

function pythonWithNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const hasNumpy = pythonWithNumpy();
if (!hasNumpy) console.warn('pickle.test: python3 with numpy is absent, so the check against pickles written by Python itself is skipped');

describe('readPickle', () => {
  it("reads a CIFAR batch as Python 2's cPickle wrote it: str keys, int lists, a uint8 numpy array", () => {
    const value = readPickle(py2SplitPickle([3, 1, 4], 'train'));
    expect(value).toBeInstanceOf(Map);
    const dict = value as Map<string, unknown>;
    expect(dict.get('fine_labels')).toEqual([3, 1, 4]);
    expect(dict.get('coarse_labels')).toEqual([3, 1, 4]);
    expect(Buffer.from(dict.get('batch_label') as Uint8Array).toString()).toBe('training batch 1 of 1');
    const data = dict.get('data') as NumpyArray;
    expect(data).toBeInstanceOf(NumpyArray);
    expect(data.shape).toEqual([3, 3072]);
    expect(data.dtype.code).toBe('u1');
    expect(data.data.length).toBe(3 * 3072);
    // Image 1's R plane starts at (1 + 0) mod 256 = 1; its G plane is 3.
    expect(data.data[3072]).toBe(1);
    expect(data.data[3072 + 1024]).toBe(3);
  });

  it('reads protocol 4 frames and memoize, protocol 2 bytes via _codecs.encode, tuples, negative and big integers, floats and None', () => {
    // The bytes Python 3.11 writes for pickle.dumps({'a': (1, -2, 2**40, 1.5, None, True, b'xy')}, protocol=4 and 2).
    const protocol4 = '8004952a000000000000007d948c016194284b014afeffffff8a06000000000001473ff80000000000004e8843027879947494732e';
    const protocol2 =
      '80027d71005801000000617101284b014afeffffff8a06000000000001473ff80000000000004e88635f636f646563730a656e636f64650a710258020000007879710358060000006c6174696e317104867105527106747107732e';
    for (const hex of [protocol4, protocol2]) {
      const dict = readPickle(Buffer.from(hex, 'hex')) as Map<string, unknown>;
      const tuple = dict.get('a') as PickleTuple;
      expect(tuple).toBeInstanceOf(PickleTuple);
      expect(tuple.items.slice(0, 6)).toEqual([1, -2, 2 ** 40, 1.5, null, true]);
      expect(Buffer.from(tuple.items[6] as Uint8Array).toString()).toBe('xy');
    }
  });

  it('names the offset of an opcode it does not support and of a truncated pickle', () => {
    expect(() => readPickle(Buffer.from([0x80, 0x02, 0xff]))).toThrow(/unsupported pickle opcode 0xff at offset 2/);
    expect(() => readPickle(Buffer.from([0x80, 0x02, 0x4a, 0x01]))).toThrow(/ends early/);
  });

  it.skipIf(!hasNumpy)('reads pickles written by Python 3 with numpy at protocols 2 to 5', () => {
    for (const protocol of [2, 3, 4, 5]) {
      const script = [
        'import pickle, sys, numpy as np',
        "d = {b'data': np.arange(12, dtype=np.uint8).reshape(2, 6), b'fine_labels': [7, 300, 70000], 'meta': [b'apple', 'maple_tree'], 'i8': np.array([-1, 5], dtype=np.int64)}",
        `sys.stdout.buffer.write(pickle.dumps(d, protocol=${protocol}))`,
      ].join('\n');
      const dict = readPickle(execFileSync('python3', ['-c', script])) as Map<string, unknown>;
      const data = dict.get('data') as NumpyArray;
      expect(data.shape).toEqual([2, 6]);
      expect(Array.from(data.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect(dict.get('fine_labels')).toEqual([7, 300, 70000]);
      const meta = dict.get('meta') as unknown[];
      expect(Buffer.from(meta[0] as Uint8Array).toString()).toBe('apple');
      expect(meta[1]).toBe('maple_tree');
      expect((dict.get('i8') as NumpyArray).toNumbers()).toEqual([-1, 5]);
    }
  });
});
