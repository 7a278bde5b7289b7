import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRAINER_BUNDLE_NAME, WORKER_FILES, bundleTrainer } from '../../container/build';
import { CUDA_CACHE_ARCHIVE, restoreCudaCache, saveCudaCache, snapshotCache } from '../../container/cuda-cache';
import { IMAGE_CONTEXT_EXCLUDES } from '../../infra/constructs/gpu-batch';
import { silentLog } from '../../src/pipeline/log';
import { MemoryObjectStore } from '../functions/helpers';

const dockerfile = readFileSync(path.resolve(import.meta.dirname, '../../container/Dockerfile'), 'utf8');

describe('the training container', () => {
  it('builds on a CUDA 11 runtime with cuDNN 8 that NVIDIA still publishes, replaceable by a digest pin, and runs as a non-root user', () => {
    // libtensorflow 2.9.1 needs the CUDA 11 ABI (11.2 or later) and cuDNN 8; the 11.2 tags are deleted, 11.8 is CUDA 11's last minor.
    const base = /^ARG CUDA_IMAGE=(nvidia\/cuda:(\d+)\.(\d+)\.\d+-cudnn(\d+)-runtime-ubuntu\d+\.\d+)$/m.exec(dockerfile);
    expect(base?.[1]).toBe('nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04');
    expect(Number(base![2])).toBe(11);
    expect(Number(base![3])).toBeGreaterThanOrEqual(2);
    expect(base![4]).toBe('8');
    // The runtime stage is built FROM that argument (the ARG comes before the first FROM, as a FROM argument must).
    expect(dockerfile.indexOf('ARG CUDA_IMAGE=')).toBeLessThan(dockerfile.indexOf('FROM '));
    expect(dockerfile).toMatch(/^FROM \$\{CUDA_IMAGE\}$/m);
    expect(dockerfile).not.toMatch(/11\.2\.2-cudnn8/);
    expect(dockerfile).toMatch(/^USER sage$/m);
    expect(JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../container/runtime-package.json'), 'utf8')).dependencies).toMatchObject({
      '@tensorflow/tfjs-node-gpu': '4.22.0',
    });
  });

  it('sends the same build context to a manual docker build as to the CDK asset', () => {
    const ignore = readFileSync(path.resolve(import.meta.dirname, '../../container/Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'));
    expect(ignore).toEqual(IMAGE_CONTEXT_EXCLUDES);
    // Everything the Dockerfile copies is inside that context.
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(' '));
    const included = (source: string): boolean =>
      IMAGE_CONTEXT_EXCLUDES.some((pattern) => {
        if (!pattern.startsWith('!')) return false;
        const kept = pattern.slice(1);
        const folder = kept.endsWith('/**') ? kept.slice(0, -3) : undefined;
        return folder ? source === folder || source.startsWith(`${folder}/`) : source === kept;
      });
    expect(copied.length).toBeGreaterThan(3);
    for (const source of copied) expect(included(source), source).toBe(true);
  });

  it('bundles the entrypoint the Dockerfile runs, at the path its ENTRYPOINT names', async () => {
    // The Dockerfile's bundle stage runs `npx tsx container/build.ts dist/container` and copies dist/container/ to /app.
    const build = /RUN npx tsx container\/build\.ts (\S+)/.exec(dockerfile);
    const copy = /COPY --from=bundle \/build\/(\S+)\/ \.\/(\S+)\//.exec(dockerfile);
    const entrypoint = /^ENTRYPOINT \["node", "([^"]+)"\]$/m.exec(dockerfile);
    expect(build && copy && entrypoint).toBeTruthy();
    expect(copy![1]).toBe(build![1]);
    expect(entrypoint![1]).toBe(`/app/${copy![2]}/${TRAINER_BUNDLE_NAME}`);

    const out = await mkdtemp(path.join(os.tmpdir(), 'trainer-bundle-'));
    try {
      const file = await bundleTrainer(path.join(out, build![1]!));
      expect(file).toBe(path.join(out, build![1]!, TRAINER_BUNDLE_NAME));
      expect(existsSync(file)).toBe(true);
      // The decode worker threads start from files beside the bundle.
      for (const name of WORKER_FILES) expect(existsSync(path.join(out, build![1]!, name))).toBe(true);
      const code = await readFile(file, 'utf8');
      // TensorFlow.js stays external (one instance for every backend); the job contract is inside.
      expect(code).toMatch(/from\s*"@tensorflow\/tfjs|import\("@tensorflow\/tfjs/);
      expect(code).toContain('SAGE_RUN_ID');
      expect((await stat(file)).size).toBeGreaterThan(10_000);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('the CUDA JIT cache kept between jobs', () => {
  it('saves a changed cache and restores it byte for byte in the next job', async () => {
    const store = new MemoryObjectStore();
    const root = await mkdtemp(path.join(os.tmpdir(), 'cuda-cache-'));
    const first = path.join(root, 'job1');
    try {
      expect(await restoreCudaCache(store, 's3://artifacts/cuda-cache/', first, silentLog)).toBe(0);
      const before = await snapshotCache(first);
      await mkdir(path.join(first, 'ComputeCache', '7'), { recursive: true });
      const kernel = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 251));
      await writeFile(path.join(first, 'ComputeCache', '7', 'a1b2'), kernel);
      await writeFile(path.join(first, 'ComputeCache', 'index'), 'idx');
      expect(await saveCudaCache(store, 's3://artifacts/cuda-cache/', first, before, silentLog)).toBe(true);
      expect(store.keys()).toEqual([`s3://artifacts/cuda-cache/${CUDA_CACHE_ARCHIVE}`]);

      const second = path.join(root, 'job2');
      expect(await restoreCudaCache(store, 's3://artifacts/cuda-cache/', second, silentLog)).toBe(2);
      expect(await readFile(path.join(second, 'ComputeCache', '7', 'a1b2'))).toEqual(kernel);
      expect(await readFile(path.join(second, 'ComputeCache', 'index'), 'utf8')).toBe('idx');
      // Nothing compiled in the second job: nothing uploaded.
      const puts = store.puts;
      expect(await saveCudaCache(store, 's3://artifacts/cuda-cache/', second, await snapshotCache(second), silentLog)).toBe(false);
      expect(store.puts).toBe(puts);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
