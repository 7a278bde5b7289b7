/** How many replicas a job runs, over which transport, and why (src/trainer/parallel/replica-count.ts). */
import { describe, expect, it } from 'vitest';
import type { ClipConfig } from '../../src/clip/types';
import os from 'node:os';
import { frozenWeightBytes, jobCoresShare, machineResources, planReplicas, replicaBytes, replicaTransport, visibleGpus } from '../../src/trainer/parallel';

const GiB = 2 ** 30;

const vitB16: ClipConfig = {
  vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 16, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { hiddenSize: 512, intermediateSize: 2048, numLayers: 12, numHeads: 8, maxPositionEmbeddings: 77, vocabSize: 49408, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', eosTokenId: 49407, bosTokenId: 49406, padTokenId: 49407 },
  projectionDim: 512,
  logitScale: 100,
};
const mini: ClipConfig = {
  ...vitB16,
  vision: { ...vitB16.vision, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, imageSize: 36, patchSize: 6 },
  text: { ...vitB16.text, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, maxPositionEmbeddings: 32, vocabSize: 765 },
  projectionDim: 64,
};

describe('replica memory', () => {
  it('counts the frozen weights of ViT-B/16 as the 149.6 M float32 values of both towers', () => {
    // openai/clip-vit-base-patch16: 149,620,737 parameters (vision 85.8 M, text 63.2 M, projections, logit scale).
    expect(frozenWeightBytes(vitB16) / 4).toBe(149_620_737);
  });

  it('puts a ViT-B/16 replica on wasm at micro-batch 2 near the 3.5 GiB measured (heap 3.1-3.3 GiB plus Node), capped by the 4 GiB heap', () => {
    const bytes = replicaBytes(vitB16, { microBatchSize: 2, batchSize: 128 }, 'wasm');
    expect(bytes / GiB).toBeGreaterThan(3.3);
    expect(bytes / GiB).toBeLessThan(3.8);
    // Micro-batch 128 does not fit a 4 GiB heap: a replica can use no more than the heap.
    expect(replicaBytes(vitB16, { microBatchSize: null, batchSize: 128 }, 'wasm') / GiB).toBeCloseTo(4.4, 5);
    expect(replicaBytes(vitB16, { microBatchSize: null, batchSize: 128 }, 'cpu') / GiB).toBeGreaterThan(100);
  });
});

describe('planReplicas', () => {
  const settings = { microBatchSize: 2, batchSize: 128 };
  const machine = (cores: number, availableGiB: number, gpus: string[] = []) => ({ cores, availableBytes: availableGiB * GiB, gpus });

  it('uses every core on wasm when memory allows, and says so', () => {
    const plan = planReplicas({ requested: null, backend: 'wasm', config: mini, settings, machine: machine(2, 20), transport: 'threads' });
    expect(plan).toMatchObject({ count: 2, transport: 'threads', environments: [] });
    expect(plan.reason).toMatch(/^2 \(default, bounded by 2 cores: 2 cores on a single-threaded wasm backend; 20\.0 GiB available holds \d+ replicas of about 0\.4 GiB\)$/);
  });

  it('is bounded by memory: 16 cores and 8 GiB hold two ViT-B/16 replicas of about 3.5 GiB', () => {
    const plan = planReplicas({ requested: null, backend: 'wasm', config: vitB16, settings, machine: machine(16, 8), transport: 'threads' });
    expect(plan.count).toBe(2);
    expect(plan.reason).toMatch(/bounded by memory: 16 cores .* 8\.0 GiB available holds 2 replicas of about 3\.\d GiB/);
    expect(planReplicas({ requested: null, backend: 'wasm', config: vitB16, settings, machine: machine(16, 2), transport: 'threads' }).count).toBe(1);
  });

  it('takes the setting when given, on any backend', () => {
    expect(planReplicas({ requested: 3, backend: 'wasm', config: vitB16, settings, machine: machine(2, 2), transport: 'threads' })).toMatchObject({ count: 3, reason: '3 (set by the replicas setting)' });
    expect(planReplicas({ requested: 1, backend: 'wasm', config: mini, settings, machine: machine(8, 20), transport: 'threads' }).count).toBe(1);
  });

  it('runs one process per GPU on tensorflow, each seeing its own, and one replica without GPUs', () => {
    const plan = planReplicas({ requested: null, backend: 'tensorflow', config: vitB16, settings, machine: machine(48, 150, ['0', '1', '2', '3']), transport: 'processes' });
    expect(plan).toMatchObject({ count: 4, transport: 'processes', environments: [{ CUDA_VISIBLE_DEVICES: '1' }, { CUDA_VISIBLE_DEVICES: '2' }, { CUDA_VISIBLE_DEVICES: '3' }] });
    expect(plan.reason).toMatch(/one per visible GPU, 0, 1, 2, 3/);
    expect(planReplicas({ requested: 8, backend: 'tensorflow', config: vitB16, settings, machine: machine(48, 150, ['0', '1']), transport: 'processes' }).count).toBe(2);
    expect(planReplicas({ requested: null, backend: 'tensorflow', config: vitB16, settings, machine: machine(8, 30), transport: 'processes' }).count).toBe(1);
  });
});

describe('transport and GPUs', () => {
  it('defaults to threads off tensorflow and processes on it; SAGE_REPLICA_TRANSPORT overrides and is checked', () => {
    expect(replicaTransport('wasm', {})).toBe('threads');
    expect(replicaTransport('tensorflow', {})).toBe('processes');
    expect(replicaTransport('wasm', { SAGE_REPLICA_TRANSPORT: 'processes' })).toBe('processes');
    expect(() => replicaTransport('wasm', { SAGE_REPLICA_TRANSPORT: 'fibres' })).toThrow(/SAGE_REPLICA_TRANSPORT is "fibres"; expected "threads" or "processes"/);
  });

  it('reads the visible GPUs from CUDA_VISIBLE_DEVICES', () => {
    expect(visibleGpus({ CUDA_VISIBLE_DEVICES: '2,3' })).toEqual(['2', '3']);
    expect(visibleGpus({ CUDA_VISIBLE_DEVICES: '' })).toEqual([]);
    expect(visibleGpus({ CUDA_VISIBLE_DEVICES: '-1' })).toEqual([]);
  });
});

describe('a job that shares the machine', () => {
  it('counts only its share of the cores (SAGE_JOB_CORES), and says so', () => {
    const share = machineResources([], { SAGE_JOB_CORES: '1' });
    const cores = os.availableParallelism();
    if (cores > 1) expect(share).toMatchObject({ cores: 1, sharedBy: { jobs: cores, cores } });
    else expect(share.cores).toBe(1);
    expect(machineResources([], {}).cores).toBe(cores);
    expect(machineResources([], { SAGE_JOB_CORES: 'many' }).cores).toBe(cores);
    expect(jobCoresShare(2, 2)).toBe(1);
    expect(jobCoresShare(3, 16)).toBe(5);
    expect(jobCoresShare(4, 2)).toBe(1);
    const plan = planReplicas({ requested: null, backend: 'wasm', config: mini, settings: { microBatchSize: null, batchSize: 32 }, machine: { cores: 1, availableBytes: 20 * GiB, gpus: [], sharedBy: { jobs: 2, cores: 2 } }, transport: 'threads' });
    expect(plan.count).toBe(1);
    expect(plan.reason).toMatch(/^1 \(default, bounded by 1 core: 1 core \(this job's share: 2 jobs side by side on 2\) on a single-threaded wasm backend/);
  });
});
