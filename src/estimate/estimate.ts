/**
 * An estimate before spending: each run's hours and dollars on every instance type the queue
 * may pick, and whether the job's attempts can hold it. A job that runs longer than one
 * attempt checkpoints before its deadline and exits "to be continued" (SPEC section 6), so the
 * attempts a run needs are ceil(compute time / usable time per attempt) plus the allowance for
 * spot reclaims; the usable time of an attempt is its timeout less the start-up (paid again by
 * every attempt) and the checkpoint margin.
 */
import { EstimateError } from '../common/errors';
import type { GpuTable } from './gpus';
import { fitMicroBatch, gpuTrainingBudget, fixedTrainingBytes, trainingBytesPerImage, type MemoryRun, type MemoryShapes } from './memory';
import { runWork, type RunWork } from './work';

/** Minutes an attempt keeps for its final checkpoint (SPEC section 6: at least 5 minutes). */
export const CHECKPOINT_MARGIN_MINUTES = 5;
/** Batch's own limit on a job's attempts. */
export const BATCH_MAX_ATTEMPTS = 10;
/**
 * Assumed data-parallel efficiency of each GPU beyond the first (SPEC section 7: one process per
 * GPU, gradients summed in the trainer each step): n GPUs run 1 + 0.9 (n - 1) times as fast as one.
 * Conservative: on the CPU two wasm replicas measured 1.95-2.03× one at ViT-B/16 (BENCHMARKS.md
 * "Data-parallel replicas"); nothing has measured GPUs yet, where the per-step reduction over IPC
 * weighs more against a faster step.
 */
export const DATA_PARALLEL_EFFICIENCY = 0.9;

/** How many times faster than one GPU a run is on `gpus` data-parallel GPUs (DATA_PARALLEL_EFFICIENCY). */
export function dataParallelSpeedup(gpus: number): number {
  return 1 + DATA_PARALLEL_EFFICIENCY * (Math.max(1, gpus) - 1);
}

export interface AttemptBudget {
  /** Instance types the compute environments may launch. */
  instanceTypes: readonly string[];
  gpus: GpuTable;
  /** One attempt's timeout (sage:jobTimeoutMinutes). */
  jobTimeoutMinutes: number;
  /** Attempts kept for spot reclaims on top of those the work needs (sage:spotRetries). */
  spotRetries: number;
  /** Most attempts a job may have (sage:jobAttempts, at most Batch's 10). */
  maxAttempts: number;
  /**
   * GPUs the job definition asks for (sage:jobGpus); the trainer runs one replica per GPU it
   * sees. Absent: 1, what every budget meant before the setting existed.
   */
  jobGpus?: number;
}

export interface InstanceEstimate {
  instanceType: string;
  gpu: string;
  /** GPUs the run uses on this type: min(sage:jobGpus, the type's GPUs). */
  gpus: number;
  /** Start-up plus compute, one attempt's start-up counted per attempt needed. */
  hours: number;
  onDemandUsd: number;
  spotUsd: number;
  /** Attempts this type would need, spot allowance included. */
  attempts: number;
  /** The largest training micro-batch its GPU holds (the memory model of memory.ts); 0: not even one image. */
  microBatch: number;
}

export interface RunEstimate {
  work: RunWork;
  byInstance: InstanceEstimate[];
  /** The slowest type's figures: what the attempt budget must cover. */
  worst: InstanceEstimate;
  /** Attempts to give the job (the worst type's need), and whether the budget allows them. */
  attempts: number;
  fits: boolean;
  /** Why it does not fit, naming the setting to raise; absent when it fits. */
  problem?: string;
}

/** The budget cannot price the run (an instance type missing from the table, no type at all). */
export class EstimateBudgetError extends EstimateError {
  constructor(message: string) {
    super(message);
    this.name = 'EstimateBudgetError';
  }
}

/** The estimate of one run on each instance type of the budget. */
export function estimateRun(
  shapes: MemoryShapes,
  run: MemoryRun,
  counts: { trainImages: number; testImages: number; classes: number; evalImages?: number },
  budget: AttemptBudget,
): RunEstimate {
  const work = runWork(shapes, run, counts);
  const usableMinutes = (startup: number): number => budget.jobTimeoutMinutes - startup - CHECKPOINT_MARGIN_MINUTES;
  const jobGpus = budget.jobGpus ?? 1;
  const byInstance = budget.instanceTypes.map((instanceType): InstanceEstimate => {
    const spec = budget.gpus[instanceType];
    if (!spec) throw new EstimateBudgetError(`no throughput for instance type ${instanceType} in the GPU table (sage:gpus); add it or remove the type from sage:instanceTypes`);
    // Training and evaluation are both shared out over the replicas; the start-up is not.
    const gpus = Math.min(jobGpus, spec.gpus);
    const computeMinutes = work.totalFlops / (spec.peakTflops * 1e12 * spec.efficiency * dataParallelSpeedup(gpus)) / 60;
    const usable = usableMinutes(spec.startupMinutes);
    const workAttempts = usable > 0 ? Math.max(1, Math.ceil(computeMinutes / usable)) : Number.POSITIVE_INFINITY;
    const hours = (computeMinutes + workAttempts * spec.startupMinutes) / 60;
    const microBatch = run.method === 'zero-shot' ? Number.MAX_SAFE_INTEGER : fitMicroBatch(shapes, run, counts.classes, gpuTrainingBudget(spec.memoryGiB * 2 ** 30));
    return {
      instanceType,
      gpu: spec.gpu,
      gpus,
      hours,
      onDemandUsd: hours * spec.onDemandUsdPerHour,
      spotUsd: hours * spec.spotUsdPerHour,
      attempts: workAttempts + budget.spotRetries,
      microBatch,
    };
  });
  if (byInstance.length === 0) throw new EstimateBudgetError('the budget names no instance type');
  const worst = byInstance.reduce((slowest, candidate) => (candidate.hours > slowest.hours ? candidate : slowest));
  const cap = Math.min(budget.maxAttempts, BATCH_MAX_ATTEMPTS);
  // Batch may place the job on any of the types: each must hold a micro-batch of one, and have the GPUs the job asks for.
  const tooSmall = byInstance.filter((e) => e.microBatch < 1);
  const tooFewGpus = byInstance.filter((e) => e.gpus < jobGpus);
  const timeFits = Number.isFinite(worst.attempts) && worst.attempts <= cap;
  const fits = timeFits && tooSmall.length === 0 && tooFewGpus.length === 0;
  const gpuProblem =
    tooFewGpus.length > 0
      ? `the job asks for ${jobGpus} GPUs (sage:jobGpus), more than ${tooFewGpus.map((e) => `${e.instanceType} (${e.gpus} × ${e.gpu})`).join(', ')} has: drop ${tooFewGpus.length > 1 ? 'them' : 'it'} from sage:instanceTypes or lower sage:jobGpus`
      : undefined;
  const memoryProblem =
    tooSmall.length > 0
      ? `one training image needs about ${gib(fixedTrainingBytes(shapes, run, counts.classes) + trainingBytesPerImage(shapes, run, counts.classes))} GiB of GPU memory (weights and state included), more than ${tooSmall.map((e) => `${e.instanceType} (${e.gpu}, ${budget.gpus[e.instanceType]!.memoryGiB} GiB)`).join(', ')} holds: drop ${tooSmall.length > 1 ? 'them' : 'it'} from sage:instanceTypes or use smaller weights`
      : undefined;
  const placementProblem = [gpuProblem, memoryProblem].filter((p) => p !== undefined).join('; and ') || undefined;
  const problem = fits
    ? undefined
    : placementProblem && timeFits
      ? placementProblem
      : `${placementProblem ? `${placementProblem}; and ` : ''}the run needs about ${formatHours(worst.hours)} on ${worst.instanceType} (${worst.gpu}), ${Number.isFinite(worst.attempts) ? `${worst.attempts} attempts` : 'more than any number of attempts'} of ${budget.jobTimeoutMinutes} minutes with ${budget.spotRetries} kept for spot reclaims; the job may have ${cap}: raise sage:jobTimeoutMinutes (or sage:jobAttempts, at most ${BATCH_MAX_ATTEMPTS}), or drop the slow type from sage:instanceTypes`;
  return { work, byInstance, worst, attempts: Number.isFinite(worst.attempts) ? Math.min(worst.attempts, cap) : cap, fits, ...(problem ? { problem } : {}) };
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

/** `3.2 h`, `45 min`. */
export function formatHours(hours: number): string {
  return hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.max(1, Math.round(hours * 60))} min`;
}

/** `3.2 PFLOP`, `41 TFLOP`, `12 GFLOP`. */
export function formatFlops(flops: number): string {
  const [scale, unit] = flops >= 1e15 ? [1e15, 'PFLOP'] : flops >= 1e12 ? [1e12, 'TFLOP'] : [1e9, 'GFLOP'];
  const value = flops / scale;
  return `${value >= 100 ? value.toFixed(0) : value.toPrecision(3)} ${unit}`;
}

/** `$12.40`. */
export function formatUsd(usd: number): string {
  return `$${usd < 10 ? usd.toFixed(2) : usd.toFixed(0)}`;
}

/** One line per run: the fastest and the slowest type, hours and on-demand / spot cost. */
export function describeEstimate(estimate: RunEstimate): string {
  const fastest = estimate.byInstance.reduce((best, candidate) => (candidate.hours < best.hours ? candidate : best));
  const memory = (e: InstanceEstimate): string => (e.microBatch >= Number.MAX_SAFE_INTEGER ? '' : `, micro-batch up to ${e.microBatch}`);
  const part = (e: InstanceEstimate): string => `${formatHours(e.hours)} on ${e.instanceType} (${e.gpus > 1 ? `${e.gpus} × ` : ''}${e.gpu}${memory(e)}): ${formatUsd(e.onDemandUsd)} on demand, ${formatUsd(e.spotUsd)} spot`;
  const flops = formatFlops(estimate.work.totalFlops);
  return fastest === estimate.worst ? `${flops}; ${part(fastest)}` : `${flops}; ${part(fastest)} to ${part(estimate.worst)}`;
}
