/**
 * The GPU-in-use check where nvidia-smi cannot read memory.used ("[N/A]", as on MIG slices and some
 * drivers): there is nothing to judge by, so a job that requires tensorflow starts instead of being
 * refused as CPU-only. Faked as in backend-gpu-check.test.ts. In its own file: a backend that
 * starts is chosen once per process.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, tensorflowOnCpu } from '../../src/clip/backend';

describe('the GPU-in-use check without memory readings', () => {
  it('does not refuse a required tensorflow when nvidia-smi reads memory.used as [N/A]', async () => {
    const importModule = async (specifier: string): Promise<unknown> => {
      if (specifier !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${specifier}'`);
      if (!tf.findBackendFactory('tensorflow')) {
        const cpuFactory = tf.findBackendFactory('cpu')!;
        tf.registerBackend('tensorflow', () => cpuFactory());
        for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
      }
      return {};
    };
    let calls = 0;
    const run = (): string => {
      calls++;
      return '0, NVIDIA A100-SXM4-40GB MIG 1g.5gb, 4864, [N/A], 535.104.05\n';
    };
    const lines: string[] = [];
    expect(await initBackend({ required: 'tensorflow', log: (line) => lines.push(line), probe: { importModule, run, env: {}, listDir: () => [] } })).toBe('tensorflow');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^tfjs backend: tensorflow .*via @tensorflow\/tfjs-node-gpu/);
    expect(tensorflowOnCpu()).toBeUndefined();
  });
});
