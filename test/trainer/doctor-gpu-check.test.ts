/**
 * `sage doctor` (the automatic backend order, no job requirement) on a GPU host where TensorFlow
 * loads but runs on its CPU kernels: the GPU is visible to nvidia-smi, but its memory does not move
 * after TensorFlow's first op. The doctor must say so and write no GPU table entry, and the device
 * facts must not name a GPU that is not in use. Faked as in backend-gpu-check.test.ts: the
 * tfjs-node-gpu import registers a `tensorflow` backend made of tfjs's cpu kernels, nvidia-smi is a
 * function. In its own file: the backend is chosen once per process.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { deviceFacts, initBackend, tensorflowOnCpu } from '../../src/clip/backend';
import { runDoctor } from '../../src/trainer/doctor';

function registerFakeTensorflow(): void {
  if (tf.findBackendFactory('tensorflow')) return;
  const cpuFactory = tf.findBackendFactory('cpu')!;
  tf.registerBackend('tensorflow', () => cpuFactory());
  for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
}

const calls: string[][] = [];
const probe = {
  importModule: async (specifier: string): Promise<unknown> => {
    if (specifier !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${specifier}'`);
    registerFakeTensorflow();
    return { version: { 'tfjs-node-gpu': '4.22.0' } };
  },
  // memory.used stays at 3 MiB: nothing of TensorFlow's reached the GPU.
  run: (command: string, args: readonly string[]): string => {
    calls.push([command, ...args]);
    return '0, Tesla T4, 15360, 3, 535.104.05\n';
  },
  env: {},
  listDir: () => [],
};

describe('sage doctor where TensorFlow loads but stays on the CPU', () => {
  it('loads it in the automatic order, says it runs on the CPU, names no GPU, and writes no GPU table', async () => {
    const lines: string[] = [];
    expect(await initBackend({ log: (line) => lines.push(line), probe })).toBe('tensorflow');
    expect(calls.length).toBeGreaterThanOrEqual(2); // before the import and after the placement op
    expect(lines[0]).toMatch(/via @tensorflow\/tfjs-node-gpu, on the CPU although nvidia-smi lists a GPU: after a \d+×\d+ matMul nvidia-smi's memory.used rose by less than/);
    expect(tensorflowOnCpu()).toMatch(/GPU 0 Tesla T4: 3 → 3 MiB used of 15360 \(\+0 MiB\)/);
    const facts = await deviceFacts(probe);
    expect(facts.backend).toBe('tensorflow');
    expect(facts.gpu).toBeUndefined();

    const logged: string[] = [];
    const report = await runDoctor({ shape: 'mini', steps: 1, microBatches: [1], methods: ['lift'], classes: 4, log: (line) => logged.push(line) });
    expect(report.onGpu).toBe(false);
    expect(report.gpuTable).toEqual({});
    expect(report.notes[0]).toMatch(/^backend tensorflow: NOT a GPU/);
    expect(report.notes[1]).toMatch(/^TensorFlow loaded but runs on its CPU kernels: after a .* matMul .*no gpuTable is written/s);
    expect(logged.join('\n')).toContain('TensorFlow loaded but runs on its CPU kernels');
  });
});
