/**
 * How many data-parallel replicas a job runs (W), and over which transport, with the reason
 * printed at start-up. The `replicas` setting (`--replicas`) decides when given; by default:
 *
 * - wasm and cpu backends (single-threaded in Node): one replica per core, bounded by memory:
 *   each replica holds its own frozen weights and its micro-batch's activations (a ViT-B/16
 *   replica on wasm needs about 3.7 GiB: a 3.3 GiB heap at micro-batch 2, plus Node);
 * - tensorflow (tfjs-node-gpu): one replica per visible GPU, as child processes that each see one
 *   (`CUDA_VISIBLE_DEVICES`); on the CPU alone, 1 (TensorFlow uses every core itself).
 *
 * `SAGE_REPLICA_TRANSPORT=threads|processes` overrides the transport (the process transport runs
 * on wasm too, which is how it is tested on a machine without GPUs).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { ClipConfig } from '../../clip/types';
import type { Settings } from '../../contracts/settings';
import { fitMicroBatch, fixedTrainingBytes, frozenMatrixFloats, trainingBytesPerImage, wasmTrainingBudget, WASM_HEAP_BYTES, type MemoryRun } from '../../estimate';
import { TrainerSettingsError } from '../errors';
import type { ReplicaTransport } from './protocol';

export const REPLICA_TRANSPORT_ENV = 'SAGE_REPLICA_TRANSPORT';

/**
 * The cores this job may use, when it shares the machine: a local pipeline that trains P jobs
 * side by side on C cores gives each floor(C / P), so the default W does not oversubscribe the
 * cores that the other jobs fill (two side-by-side jobs on two cores are already perfectly packed).
 */
export const JOB_CORES_ENV = 'SAGE_JOB_CORES';

/**
 * What a replica costs besides its tensors: Node, V8 and tfjs's own JavaScript. Measured at
 * ViT-B/16 on wasm: process RSS 3,728 MiB against a wasm heap of 3,331 MiB (BENCHMARKS.md).
 */
export const REPLICA_OVERHEAD_BYTES = 0.4 * 2 ** 30;

/** The settings a replica's size depends on (a resolved Settings has them all). */
export type ReplicaSizeSettings = MemoryRun & Pick<Settings, 'microBatchSize' | 'batchSize'>;

/**
 * Host memory one replica needs, from the training memory model (src/estimate/memory.ts): its
 * fixed tensors (frozen weights, W^zs, the trainable state) and one micro-batch's activations.
 * On wasm the heap also holds XNNPACK's packed copies of the frozen matrices and never grows
 * past its 4 GiB, and an unset micro-batch is the one the trainer will choose (what the heap
 * holds); elsewhere an unset micro-batch is the whole batch. Plus REPLICA_OVERHEAD_BYTES.
 */
export function replicaBytes(config: ClipConfig, settings: ReplicaSizeSettings, backend: string, classes: number): number {
  const fixed = fixedTrainingBytes(config, settings, classes);
  const perImage = trainingBytesPerImage(config, settings, classes);
  if (backend !== 'wasm') return fixed + (settings.microBatchSize ?? settings.batchSize) * perImage + REPLICA_OVERHEAD_BYTES;
  const fit = Math.max(1, fitMicroBatch(config, settings, classes, wasmTrainingBudget(config)));
  const micro = settings.microBatchSize ?? Math.min(settings.batchSize, fit);
  const matrices = frozenMatrixFloats(config);
  const packed = 4 * (2 * matrices.vision + matrices.text);
  return Math.min(WASM_HEAP_BYTES, fixed + micro * perImage + packed) + REPLICA_OVERHEAD_BYTES;
}

export interface MachineResources {
  cores: number;
  /** Memory available to new replicas now (MemAvailable, within a cgroup limit if there is one). */
  availableBytes: number;
  /** GPU ids this process may use (CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`); empty without GPUs. */
  gpus: string[];
  /** Set when `cores` is this job's share of a machine that runs several jobs (SAGE_JOB_CORES). */
  sharedBy?: { jobs: number; cores: number };
}

export interface ReplicaPlan {
  count: number;
  transport: ReplicaTransport;
  /** One line for the start-up log. */
  reason: string;
  /** Processes on GPUs: CUDA_VISIBLE_DEVICES of helper i (index i-1). */
  environments: Record<string, string>[];
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** The transport for a backend, unless SAGE_REPLICA_TRANSPORT says otherwise. */
export function replicaTransport(backend: string, env: NodeJS.ProcessEnv = process.env): ReplicaTransport {
  const forced = env[REPLICA_TRANSPORT_ENV];
  if (forced === 'threads' || forced === 'processes') return forced;
  if (forced) throw new TrainerSettingsError(`${REPLICA_TRANSPORT_ENV} is ${JSON.stringify(forced)}; expected "threads" or "processes"`);
  return backend === 'tensorflow' ? 'processes' : 'threads';
}

/** W and its reason, from the setting (null = default), the backend, the model's size and the machine. */
export function planReplicas(input: {
  requested: number | null;
  backend: string;
  config: ClipConfig;
  settings: ReplicaSizeSettings;
  /** The run's classes (W^zs, the classifier and LIFT's bottleneck grow with them). */
  classes: number;
  machine: MachineResources;
  transport?: ReplicaTransport;
}): ReplicaPlan {
  const { requested, backend, machine } = input;
  const transport = input.transport ?? replicaTransport(backend);
  const onGpus = backend === 'tensorflow' && transport === 'processes' && machine.gpus.length > 0;
  const environments = (count: number) => (onGpus ? Array.from({ length: count - 1 }, (_, i) => ({ CUDA_VISIBLE_DEVICES: machine.gpus[i + 1]! })) : []);
  if (backend === 'tensorflow') {
    const gpus = machine.gpus.length;
    if (requested !== null) {
      if (gpus > 0 && requested > gpus) {
        return { count: gpus, transport, reason: `${gpus} (the setting asks for ${requested}, but ${gpus} GPU${gpus === 1 ? ' is' : 's are'} visible: one replica per GPU)`, environments: environments(gpus) };
      }
      return { count: requested, transport, reason: `${requested} (set by the replicas setting)`, environments: environments(requested) };
    }
    if (gpus >= 2) return { count: gpus, transport, reason: `${gpus} (default: one per visible GPU, ${machine.gpus.join(', ')}, each in its own process)`, environments: environments(gpus) };
    return { count: 1, transport, reason: `1 (default on the tensorflow backend with ${gpus === 1 ? 'one GPU' : 'no GPU: TensorFlow already uses every core'})`, environments: [] };
  }
  if (requested !== null) return { count: requested, transport, reason: `${requested} (set by the replicas setting)`, environments: [] };
  const each = replicaBytes(input.config, input.settings, backend, input.classes);
  const fit = Math.max(1, Math.floor((0.9 * machine.availableBytes) / each));
  const count = Math.max(1, Math.min(machine.cores, fit));
  const bound = count === machine.cores ? `${machine.cores} core${machine.cores === 1 ? '' : 's'}` : `memory`;
  const share = machine.sharedBy ? ` (this job's share: ${machine.sharedBy.jobs} jobs side by side on ${machine.sharedBy.cores})` : '';
  return {
    count,
    transport,
    reason:
      `${count} (default, bounded by ${bound}: ${machine.cores} core${machine.cores === 1 ? '' : 's'}${share} on a single-threaded ${backend} backend; ` +
      `${gib(machine.availableBytes)} available holds ${fit} replica${fit === 1 ? '' : 's'} of about ${gib(each)})`,
    environments: [],
  };
}

/** GPU ids from CUDA_VISIBLE_DEVICES, else from `nvidia-smi -L`; empty where there is none. */
export function visibleGpus(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = env.CUDA_VISIBLE_DEVICES;
  if (listed !== undefined) return listed.split(',').map((s) => s.trim()).filter((s) => s.length > 0 && s !== '-1' && s !== 'NoDevFiles');
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((line) => /^GPU \d+/.test(line)).map((_, i) => String(i));
  } catch {
    return [];
  }
}

/** This machine now; `gpus` as pinTrainerGpu saw them (after pinning this process sees only its own). */
export function machineResources(gpus: string[] = visibleGpus(), env: NodeJS.ProcessEnv = process.env): MachineResources {
  const constrained = process.constrainedMemory?.() ?? 0;
  const limit = constrained > 0 && constrained < os.totalmem() ? constrained - process.memoryUsage().rss : Infinity;
  const all = os.availableParallelism();
  const share = Number(env[JOB_CORES_ENV]);
  const cores = Number.isInteger(share) && share >= 1 && share < all ? share : all;
  return {
    cores,
    availableBytes: Math.max(0, Math.min(os.freemem(), limit)),
    gpus,
    ...(cores < all ? { sharedBy: { jobs: Math.round(all / cores), cores: all } } : {}),
  };
}

/** SAGE_JOB_CORES for each of `jobs` jobs run side by side on this machine (at least 1). */
export function jobCoresShare(jobs: number, cores: number = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, jobs)));
}

/**
 * On a machine with several GPUs, this process (replica 0) keeps the first for itself, so
 * TensorFlow does not reserve memory on the others, which its helper processes use. Call before
 * the backend loads; returns the GPU ids seen before pinning.
 */
export function pinTrainerGpu(env: NodeJS.ProcessEnv = process.env): string[] {
  const gpus = visibleGpus(env);
  if (gpus.length >= 2) env.CUDA_VISIBLE_DEVICES = gpus[0]!;
  return gpus;
}
