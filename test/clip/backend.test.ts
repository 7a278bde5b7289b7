import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';

describe('initBackend', () => {
  it('starts one backend, says which in a single line, and returns the same name on later calls', async () => {
    const lines: string[] = [];
    const name = await initBackend({ log: (line) => lines.push(line) });
    expect(['tensorflow', 'wasm', 'cpu']).toContain(name);
    expect(tf.getBackend()).toBe(name);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^tfjs backend: ${name} \\(tfjs 4\\.22\\.0`));
    expect(await initBackend({ log: (line) => lines.push(line) })).toBe(name);
    expect(lines).toHaveLength(1);
  });

  it('prefers wasm over the pure-JS cpu backend where the native bindings are absent', async () => {
    const name = await initBackend({ log: () => {} });
    if (name === 'tensorflow') return; // the training container: the native binding won, as it should
    expect(name).toBe('wasm');
  });
});
