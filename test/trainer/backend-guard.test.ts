/**
 * The backend guard: a job that requires the native backend (SAGE_REQUIRED_BACKEND=tensorflow)
 * and cannot load it is refused with the reason (the import's error, the GPU nvidia-smi sees,
 * the CUDA / cuBLAS / cuDNN libraries found), on a machine made to look like a broken GPU host:
 * a fake nvidia-smi on PATH, a library folder with the CUDA runtime but no cuDNN, and a
 * tfjs-node-gpu import that fails as it does when libcudnn.so.8 is missing. Without the
 * requirement the automatic order still ends on wasm here. TensorFlow that loads but runs on the CPU
 * (how a missing cuDNN shows in the field) is tested in backend-gpu-check.test.ts.
 */
import { readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipBackendUnavailableError, deviceFacts, diagnoseNativeBackend, initBackend, queryGpus } from '../../src/clip/backend';

describe('the native backend guard', () => {
  let root: string;
  let libs: string;
  const savedPath = process.env.PATH;
  /** Only the fake machine's folders: this host's own /usr/local/cuda must not leak into the diagnosis. */
  const fakeMachineDir = (dir: string): string[] => (dir.startsWith(root) ? readdirSync(dir) : []);

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'backend-guard-'));
    const bin = path.join(root, 'bin');
    libs = path.join(root, 'cuda', 'lib64');
    await mkdir(bin, { recursive: true });
    await mkdir(libs, { recursive: true });
    // What nvidia-smi prints for this query on a g4dn.xlarge.
    await writeFile(path.join(bin, 'nvidia-smi'), '#!/bin/sh\necho "0, Tesla T4, 15360, 3, 535.104.05"\n');
    await chmod(path.join(bin, 'nvidia-smi'), 0o755);
    for (const file of ['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11']) await writeFile(path.join(libs, file), '');
    process.env.PATH = `${bin}${path.delimiter}${savedPath ?? ''}`;
  });

  afterAll(async () => {
    process.env.PATH = savedPath;
    await rm(root, { recursive: true, force: true });
  });

  it('reads the GPU from nvidia-smi', () => {
    expect(queryGpus()).toEqual([{ index: 0, name: 'Tesla T4', memoryMiB: 15360, usedMiB: 3, driver: '535.104.05' }]);
  });

  it('refuses to run without tensorflow when the job requires it, saying why it did not load', async () => {
    const importModule = async (specifier: string): Promise<unknown> => {
      if (specifier === '@tensorflow/tfjs-node-gpu') {
        throw new Error('libcudnn.so.8: cannot open shared object file: No such file or directory\n    at Module._extensions..node (node:internal/modules/cjs/loader:1460:18)\n    at more frames');
      }
      throw new Error(`Cannot find package '${specifier}' imported from /app/dist/container/trainer.mjs`);
    };
    const error = await initBackend({ required: 'tensorflow', log: () => {}, probe: { importModule, env: { LD_LIBRARY_PATH: libs, CUDA_VERSION: '11.8.0' }, listDir: fakeMachineDir } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClipBackendUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain('this job requires it (SAGE_REQUIRED_BACKEND)');
    expect(message).toContain('import @tensorflow/tfjs-node-gpu: libcudnn.so.8: cannot open shared object file');
    expect(message).toContain('GPU: Tesla T4 (15360 MiB, driver 535.104.05)');
    expect(message).toContain(`CUDA runtime (libcudart): ${path.join(libs, 'libcudart.so.11.0')}; CUDA_VERSION 11.8.0`);
    expect(message).toContain('cuDNN (libcudnn): none found');
    const diagnosis = (error as ClipBackendUnavailableError).diagnosis!;
    expect(diagnosis.libraries.cublas).toEqual([path.join(libs, 'libcublas.so.11')]);
    expect(diagnosis.imports.map((i) => i.specifier)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  });

  it('says when no GPU is visible at all', () => {
    const diagnosis = diagnoseNativeBackend([], {
      run: () => {
        throw Object.assign(new Error('spawnSync nvidia-smi ENOENT'), { code: 'ENOENT' });
      },
      exists: () => false,
      env: {},
    });
    expect(diagnosis.gpus).toEqual([]);
    expect(diagnosis.gpuNote).toMatch(/nvidia-smi failed \(spawnSync nvidia-smi ENOENT\); no \/dev\/nvidia0/);
  });

  it('keeps the automatic order outside a job (wasm here), records the device, and then cannot serve a job that requires tensorflow', async () => {
    const lines: string[] = [];
    expect(await initBackend({ log: (line) => lines.push(line) })).toBe('wasm');
    expect(lines.join('\n')).toMatch(/tfjs backend: wasm .*@tensorflow\/tfjs-node-gpu: not installed/);
    const facts = await deviceFacts();
    expect(facts.backend).toBe('wasm');
    expect(facts.gpu).toBeUndefined();
    expect(facts.tfjs).toMatchObject({ tfjs: '4.22.0', 'tfjs-core': '4.22.0', 'tfjs-backend-wasm': '4.22.0' });
    await expect(initBackend({ required: 'tensorflow' })).rejects.toThrow('this process already runs on wasm and cannot switch');
  });
});
