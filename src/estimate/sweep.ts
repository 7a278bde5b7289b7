/**
 * The estimate of a whole manifest: one RunEstimate per sweep entry, the attempts the job
 * needs (an array job has one retry strategy for all children: the most any child needs),
 * whether every entry fits the budget, and the sweep's totals. The validation function, `sage
 * validate`, `sage submit --dry-run` and `sage repro` all print it through describeSweepEstimate.
 */
import { estimateRun, formatHours, formatUsd, describeEstimate, type AttemptBudget, type RunEstimate } from './estimate';
import { DEFAULT_GPUS } from './gpus';
import type { MemoryRun, MemoryShapes } from './memory';

/** The stack's defaults (infra/settings.ts reads them from here), for estimates made without a deployment. */
export const DEFAULT_BUDGET: AttemptBudget = {
  instanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge', 'g5.2xlarge'],
  gpus: DEFAULT_GPUS,
  // 24 h: with 7 attempts left after the spot retries, a 20-epoch iNaturalist 2018 Sage run on a T4 (about 108 h) fits; at 12 h it needed 13.
  jobTimeoutMinutes: 24 * 60,
  spotRetries: 3,
  maxAttempts: 10,
  jobGpus: 1,
};

export interface EntryEstimate {
  sweepIndex: number;
  method: string;
  estimate: RunEstimate;
}

export interface SweepEstimate {
  entries: EntryEstimate[];
  /** Attempts to give the job: the most any entry needs, within the budget's cap. */
  attempts: number;
  fits: boolean;
  /** Per entry that does not fit: why, naming the setting to raise. */
  problems: { sweepIndex: number; message: string }[];
  /** Over all entries, on the slowest type each may land on. */
  totals: { hours: number; onDemandUsd: number; spotUsd: number };
}

export interface SweepRun extends MemoryRun {
  sweepIndex: number;
  /** The method label of the summary (`sage`, `lift+sg`). */
  label: string;
}

export function estimateSweep(
  shapes: MemoryShapes,
  runs: readonly SweepRun[],
  counts: { trainImages: number; testImages: number; classes: number; evalImages?: number },
  budget: AttemptBudget,
): SweepEstimate {
  const entries = runs.map((run) => ({ sweepIndex: run.sweepIndex, method: run.label, estimate: estimateRun(shapes, run, counts, budget) }));
  const problems = entries.filter((entry) => !entry.estimate.fits).map((entry) => ({ sweepIndex: entry.sweepIndex, message: entry.estimate.problem! }));
  const sum = (pick: (e: RunEstimate) => number): number => entries.reduce((total, entry) => total + pick(entry.estimate), 0);
  return {
    entries,
    attempts: Math.max(1, ...entries.map((entry) => entry.estimate.attempts)),
    fits: problems.length === 0,
    problems,
    totals: { hours: sum((e) => e.worst.hours), onDemandUsd: sum((e) => e.worst.onDemandUsd), spotUsd: sum((e) => e.worst.spotUsd) },
  };
}

/** Lines for people: one per entry (up to `limit`), then the sweep's total and the attempts. */
export function describeSweepEstimate(sweep: SweepEstimate, limit = 20): string[] {
  const lines = sweep.entries.slice(0, limit).map((entry) => `#${entry.sweepIndex} ${entry.method}: ${describeEstimate(entry.estimate)}`);
  if (sweep.entries.length > limit) lines.push(`... and ${sweep.entries.length - limit} more runs`);
  if (sweep.entries.length > 1) {
    lines.push(`all ${sweep.entries.length} runs: ${formatHours(sweep.totals.hours)} of instance time at most, ${formatUsd(sweep.totals.onDemandUsd)} on demand, ${formatUsd(sweep.totals.spotUsd)} spot`);
  }
  lines.push(`attempts per job: ${sweep.attempts} (spot reclaims and "to be continued" exits retry)`);
  for (const problem of sweep.problems) lines.push(`#${problem.sweepIndex} does not fit: ${problem.message}`);
  return lines;
}

/** The estimate as stored in a run record or a rejection report: the figures, without the FLOP breakdown. */
export interface StoredEstimate {
  attempts: number;
  fits: boolean;
  totals: SweepEstimate['totals'];
  entries: { sweepIndex: number; method: string; flops: number; byInstance: { instanceType: string; gpu: string; hours: number; onDemandUsd: number; spotUsd: number; attempts: number; microBatch: number }[] }[];
}

export function storedEstimate(sweep: SweepEstimate): StoredEstimate {
  return {
    attempts: sweep.attempts,
    fits: sweep.fits,
    totals: sweep.totals,
    entries: sweep.entries.map((entry) => ({
      sweepIndex: entry.sweepIndex,
      method: entry.method,
      flops: entry.estimate.work.totalFlops,
      // The stored form (StoredEstimateSchema) predates the GPU count and does not carry it.
      byInstance: entry.estimate.byInstance.map(({ gpus: _gpus, ...e }) => ({ ...e, attempts: Number.isFinite(e.attempts) ? e.attempts : -1, microBatch: Math.min(e.microBatch, 1_000_000) })),
    })),
  };
}
