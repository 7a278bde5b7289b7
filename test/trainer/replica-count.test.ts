/** How many replicas a job runs, over which transport, and why (src/trainer/parallel/replica-count.ts). */
import { describe, expect, it } from 'vitest';
import type { ClipConfig } from '../../src/clip/types';
import os from 'node:os';
import { resolveSettings } from '../../src/contracts/settings';
import { WASM_HEAP_BYTES } from '../../src/estimate';
import { VIT_B16_CONFIG } from '../helpers/vit-b16-config';
import { jobCoresShare, machineResources, pinTrainerGpu, planReplicas, replicaBytes, replicaTransport, REPLICA_OVERHEAD_BYTES, visibleGpus } from '../../src/trainer/parallel';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const vitB16 = VIT_B16_CONFIG;
const mini: ClipConfig = {
  ...vitB16,
  vision: { ...vitB16.vision, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, imageSize: 36, patchSize: 6 },
  text: { ...vitB16.text, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, maxPositionEmbeddings: 32, vocabSize: 765 },
  projectionDim: 64,
};

describe('replica memory', () => {
  const lift = (microBatchSize: number | null) => resolveSettings({ method: 'lift', microBatchSize });

  it('puts two ViT-B/16 LIFT replicas on wasm at micro-batch 2 within 5 % of the 8,043 MiB peak RSS measured (bench/train.bench.ts, 4 classes)', () => {
    // bench/results/train.json: sage train, 2 replicas (threads of one process), automatic micro-batch 2, peak RSS 8,043 MiB.
    const two = 2 * replicaBytes(vitB16, lift(2), 'wasm', 4);
    expect(Math.abs(two / MiB - 8043) / 8043).toBeLessThan(0.05);
  });

  it('sizes an unset micro-batch as the trainer will choose it: on wasm what the heap holds (2 at ViT-B/16), elsewhere the whole batch', () => {
    expect(replicaBytes(vitB16, lift(null), 'wasm', 100)).toBe(replicaBytes(vitB16, lift(2), 'wasm', 100));
    // Never more than the 4 GiB heap plus Node, whatever the micro-batch asked for.
    expect(replicaBytes(vitB16, lift(64), 'wasm', 100)).toBeCloseTo(WASM_HEAP_BYTES + REPLICA_OVERHEAD_BYTES, -3);
    expect(replicaBytes(vitB16, lift(null), 'cpu', 100) / GiB).toBeGreaterThan(100);
    // Sage keeps FIT's heads and the SG-Adapter's larger bottleneck activations: more than LIFT.
    expect(replicaBytes(vitB16, resolveSettings({ method: 'sage', microBatchSize: 2 }), 'wasm', 100)).toBeGreaterThan(replicaBytes(vitB16, lift(2), 'wasm', 100));
  });
});

describe('planReplicas', () => {
  const settings = resolveSettings({ method: 'lift', microBatchSize: 2 });
  const classes = 100;
  const machine = (cores: number, availableGiB: number, gpus: string[] = []) => ({ cores, availableBytes: availableGiB * GiB, gpus });

  it('uses every core on wasm when memory allows, and says so', () => {
    const plan = planReplicas({ requested: null, backend: 'wasm', config: mini, settings, classes, machine: machine(2, 20), transport: 'threads' });
    expect(plan).toMatchObject({ count: 2, transport: 'threads', environments: [] });
    expect(plan.reason).toMatch(/^2 \(default, bounded by 2 cores: 2 cores on a single-threaded wasm backend; 20\.0 GiB available holds \d+ replicas of about 0\.4 GiB\)$/);
  });

  it('is bounded by memory: 16 cores and 9 GiB hold two ViT-B/16 replicas of about 3.9 GiB', () => {
    const plan = planReplicas({ requested: null, backend: 'wasm', config: vitB16, settings, classes, machine: machine(16, 9), transport: 'threads' });
    expect(plan.count).toBe(2);
    expect(plan.reason).toMatch(/bounded by memory: 16 cores .* 9\.0 GiB available holds 2 replicas of about 3\.9 GiB/);
    expect(planReplicas({ requested: null, backend: 'wasm', config: vitB16, settings, classes, machine: machine(16, 4), transport: 'threads' }).count).toBe(1);
  });

  it('takes the setting when given, on any backend', () => {
    expect(planReplicas({ requested: 3, backend: 'wasm', config: vitB16, settings, classes, machine: machine(2, 2), transport: 'threads' })).toMatchObject({ count: 3, reason: '3 (set by the replicas setting)' });
    expect(planReplicas({ requested: 1, backend: 'wasm', config: mini, settings, classes, machine: machine(8, 20), transport: 'threads' }).count).toBe(1);
  });

  it('runs one process per GPU on tensorflow, each seeing its own, and one replica without GPUs', () => {
    const plan = planReplicas({ requested: null, backend: 'tensorflow', config: vitB16, settings, classes, machine: machine(48, 150, ['0', '1', '2', '3']), transport: 'processes' });
    expect(plan).toMatchObject({ count: 4, transport: 'processes', environments: [{ CUDA_VISIBLE_DEVICES: '1' }, { CUDA_VISIBLE_DEVICES: '2' }, { CUDA_VISIBLE_DEVICES: '3' }] });
    expect(plan.reason).toMatch(/one per visible GPU, 0, 1, 2, 3/);
    expect(planReplicas({ requested: 8, backend: 'tensorflow', config: vitB16, settings, classes, machine: machine(48, 150, ['0', '1']), transport: 'processes' }).count).toBe(2);
    expect(planReplicas({ requested: null, backend: 'tensorflow', config: vitB16, settings, classes, machine: machine(8, 30), transport: 'processes' }).count).toBe(1);
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
    const plan = planReplicas({ requested: null, backend: 'wasm', config: mini, settings: resolveSettings({ method: 'lift', batchSize: 32 }), classes: 100, machine: { cores: 1, availableBytes: 20 * GiB, gpus: [], sharedBy: { jobs: 2, cores: 2 } }, transport: 'threads' });
    expect(plan.count).toBe(1);
    expect(plan.reason).toMatch(/^1 \(default, bounded by 1 core: 1 core \(this job's share: 2 jobs side by side on 2\) on a single-threaded wasm backend/);
  });
});

describe('pinTrainerGpu', () => {
  it('leaves the trainer the first of several visible GPUs and returns all of them for the helpers', () => {
    const env: NodeJS.ProcessEnv = { CUDA_VISIBLE_DEVICES: '2, 3,5' };
    expect(pinTrainerGpu(env)).toEqual(['2', '3', '5']);
    expect(env.CUDA_VISIBLE_DEVICES).toBe('2');
    // One GPU, or none visible ('-1' hides them all): nothing to pin, the variable stays as it was.
    const one: NodeJS.ProcessEnv = { CUDA_VISIBLE_DEVICES: '1' };
    expect(pinTrainerGpu(one)).toEqual(['1']);
    expect(one.CUDA_VISIBLE_DEVICES).toBe('1');
    const hidden: NodeJS.ProcessEnv = { CUDA_VISIBLE_DEVICES: '-1' };
    expect(pinTrainerGpu(hidden)).toEqual([]);
    expect(hidden.CUDA_VISIBLE_DEVICES).toBe('-1');
  });
});
