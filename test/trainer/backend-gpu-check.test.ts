/**
 * The backend guard's second half: a job that requires tensorflow must also be seen on the GPU.
 * libtensorflow that cannot open cuDNN / cudart (or meets a too-old driver) still loads and runs on
 * its CPU kernels under the `tensorflow` name; the only outside sign is that the GPU's memory.used
 * does not move. Faked here: the tfjs-node-gpu import resolves and registers a `tensorflow` backend
 * backed by tfjs's cpu kernels (its BatchMatMul counted), and nvidia-smi is a function whose
 * memory.used rises only when the GPU is meant to be in use. The same fake gives deviceFacts' GPU
 * branch (name, memory, driver, CUDA and library versions for metrics.json).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ClipBackendUnavailableError, deviceFacts, GPU_MEMORY_RISE_MIB, initBackend } from '../../src/clip/backend';

/** BatchMatMul kernels the fake `tensorflow` backend has run: the guard's placement op must be one. */
let matMuls = 0;

/** What `import('@tensorflow/tfjs-node-gpu')` does: register the `tensorflow` backend (once). */
function registerFakeTensorflow(): void {
  if (tf.findBackendFactory('tensorflow')) return;
  const cpuFactory = tf.findBackendFactory('cpu')!;
  // tfjs-node's backend has a binding with libtensorflow's version; deviceFacts reads it.
  tf.registerBackend('tensorflow', () => Object.assign(cpuFactory() as tf.KernelBackend, { binding: { TF_Version: '2.9.1' } }));
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    const kernelFunc: tf.KernelFunc =
      kernel.kernelName === tf.BatchMatMul
        ? (args) => {
            matMuls += 1;
            return kernel.kernelFunc(args);
          }
        : kernel.kernelFunc;
    tf.registerKernel({ ...kernel, kernelFunc, backendName: 'tensorflow' });
  }
}

const importModule = async (specifier: string): Promise<unknown> => {
  if (specifier !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${specifier}'`);
  registerFakeTensorflow();
  return { version: { 'tfjs-node-gpu': '4.22.0' } };
};

/** nvidia-smi's answer to queryGpus' query for two T4s, memory.used in MiB per GPU. */
function nvidiaSmi(used: () => [number, number], calls: string[][]): (command: string, args: readonly string[]) => string {
  return (command, args) => {
    calls.push([command, ...args]);
    const [a, b] = used();
    return `0, Tesla T4, 15360, ${a}, 535.104.05\n1, Tesla T4, 15360, ${b}, 535.104.05\n`;
  };
}

describe('the GPU-in-use check of a required tensorflow backend', () => {
  it('refuses TensorFlow that loaded but left the GPU memory where it was (CPU kernels), with the figures and the diagnosis', async () => {
    const calls: string[][] = [];
    const env = { CUDA_VERSION: '11.8.0', NV_CUDNN_VERSION: '8.9.6.50', LD_LIBRARY_PATH: '/fake/cuda/lib64' };
    const listDir = (dir: string): string[] => (dir === '/fake/cuda/lib64' ? ['libcudart.so.11.0', 'libcublas.so.11'] : []);
    const error = await initBackend({ required: 'tensorflow', log: () => {}, probe: { importModule, run: nvidiaSmi(() => [3, 0], calls), env, listDir } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClipBackendUnavailableError);
    // The placement op ran on the backend that loaded, between the two looks at nvidia-smi.
    expect(matMuls).toBe(1);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toEqual(['nvidia-smi', '--query-gpu=index,name,memory.total,memory.used,driver_version', '--format=csv,noheader,nounits']);
    const message = (error as Error).message;
    expect(message).toContain('this job requires it (SAGE_REQUIRED_BACKEND)');
    expect(message).toContain('TensorFlow loaded (@tensorflow/tfjs-node-gpu) but runs on the CPU');
    expect(message).toContain(`rose by less than the ${GPU_MEMORY_RISE_MIB} MiB`);
    expect(message).toContain('GPU 0 Tesla T4: 3 → 3 MiB used of 15360 (+0 MiB); GPU 1 Tesla T4: 0 → 0 MiB used of 15360 (+0 MiB)');
    expect(message).toContain('Could not load dynamic library');
    // The existing diagnosis follows: what loaded, the GPU, the libraries found and missing.
    expect(message).toContain('import @tensorflow/tfjs-node-gpu: loaded and started, but on the CPU (no GPU in use)');
    expect(message).toContain('CUDA runtime (libcudart): /fake/cuda/lib64/libcudart.so.11.0; CUDA_VERSION 11.8.0');
    expect(message).toContain('cuDNN (libcudnn): none found; cuDNN 8.9.6.50');
    // Refused at once: the CPU-only binding is not tried after the GPU one loaded on the CPU.
    expect((error as ClipBackendUnavailableError).diagnosis!.imports.map((i) => i.specifier)).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('refuses a rise under the threshold, and a machine where nvidia-smi lists no GPU', async () => {
    const start = matMuls;
    const run = nvidiaSmi(() => [3, matMuls > start ? 3 + GPU_MEMORY_RISE_MIB - 1 : 3], []);
    const small = await initBackend({ required: 'tensorflow', log: () => {}, probe: { importModule, run, env: {}, listDir: () => [] } }).catch((e: unknown) => e);
    expect(small).toBeInstanceOf(ClipBackendUnavailableError);
    expect((small as Error).message).toContain(`GPU 1 Tesla T4: 3 → ${3 + GPU_MEMORY_RISE_MIB - 1} MiB used of 15360 (+${GPU_MEMORY_RISE_MIB - 1} MiB)`);
    const none = await initBackend({ required: 'tensorflow', log: () => {}, probe: { importModule, run: () => '', env: {}, listDir: () => [], exists: () => false } }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ClipBackendUnavailableError);
    expect((none as Error).message).toContain('runs on the CPU: nvidia-smi listed no GPU before TensorFlow loaded');
    expect((none as Error).message).toContain('GPU: nvidia-smi lists no GPU');
  });

  it('accepts TensorFlow whose placement op took the GPU memory, and records that GPU for metrics.json', async () => {
    const lines: string[] = [];
    const before = matMuls;
    // TF's BFC allocator takes most of GPU 1 (the one CUDA_VISIBLE_DEVICES gives this process) at its first op.
    const run = nvidiaSmi(() => [3, matMuls > before ? 14_800 : 120], []);
    expect(await initBackend({ required: 'tensorflow', log: (line) => lines.push(line), probe: { importModule, run, env: {} } })).toBe('tensorflow');
    expect(matMuls).toBe(before + 1);
    expect(lines).toEqual([expect.stringMatching(/^tfjs backend: tensorflow \(tfjs 4\.22\.0; via @tensorflow\/tfjs-node-gpu\)$/)]);
    const facts = await deviceFacts({ importModule, env: { CUDA_VISIBLE_DEVICES: '1', CUDA_VERSION: '11.8.0' } });
    expect(facts.backend).toBe('tensorflow');
    // nvidia-smi's view from before TensorFlow loaded: what others used, not TensorFlow's own reservation.
    expect(facts.gpu).toEqual({ name: 'Tesla T4', memoryMiB: 15360, usedMiB: 120, driver: '535.104.05', cuda: '11.8.0', count: 2 });
    expect(facts.tfjs).toMatchObject({ tfjs: '4.22.0', 'tfjs-node-gpu': '4.22.0', native: '@tensorflow/tfjs-node-gpu', libtensorflow: '2.9.1' });
    const first = await deviceFacts({ importModule, env: {} });
    expect(first.gpu).toMatchObject({ usedMiB: 3, count: 2 });
  });
});
