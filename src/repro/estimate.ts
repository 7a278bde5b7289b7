/**
 * The size of a sweep before it starts, and the seam for its GPU estimate. The estimate
 * (SPEC section 6, "Work per run": time and cost from the model's FLOPs and the GPU table)
 * is another issue's `estimateRun`; it does not exist yet, so `GPU_ESTIMATE` is undefined
 * and the command says so instead of printing a number. Once it exists, set GPU_ESTIMATE
 * to a function over the manifest and its counts, and `describeSweep` prints its lines.
 */
import { resolveSettings } from '../contracts/settings';
import type { Manifest } from '../manifest/schema';

export interface SweepWork {
  runs: number;
  /** Runs that train (all but zero-shot). */
  trainedRuns: number;
  /** Σ over trained runs of epochs × training images. */
  trainingImages: number;
  /** Σ over runs of test images × crops (5 with TTE). */
  testCrops: number;
}

/** What the GPU estimate will give for a whole sweep. */
export interface SweepEstimate {
  gpuHours: number;
  costUsd: number;
  /** The instance type or GPU it was estimated for. */
  gpu: string;
}

export type SweepEstimator = (manifest: Manifest, counts: { train: number; test: number }) => Promise<SweepEstimate>;

/** The seam: undefined until the GPU issue's estimateRun exists. */
export const GPU_ESTIMATE: SweepEstimator | undefined = undefined;

export function sweepWork(manifest: Manifest, counts: { train: number; test: number }): SweepWork {
  const entries = manifest.sweep ?? [{}];
  let trainedRuns = 0;
  let trainingImages = 0;
  let testCrops = 0;
  for (const entry of entries) {
    const settings = resolveSettings(manifest.training, entry);
    if (settings.method !== 'zero-shot') {
      trainedRuns += 1;
      trainingImages += settings.epochs * counts.train;
    }
    testCrops += counts.test * (settings.tte ? 5 : 1);
  }
  return { runs: entries.length, trainedRuns, trainingImages, testCrops };
}

const count = (n: number): string => n.toLocaleString('en-US');

/** Lines for the command's output: the sweep's size, then the estimate or why there is none. */
export async function describeSweep(manifest: Manifest, counts: { train: number; test: number }, estimator: SweepEstimator | undefined = GPU_ESTIMATE): Promise<string[]> {
  const work = sweepWork(manifest, counts);
  const lines = [
    `sweep: ${work.runs} runs (${work.trainedRuns} trained): ${count(work.trainingImages)} training images in all (epochs × ${count(counts.train)}), ${count(work.testCrops)} test crops (${count(counts.test)} test images, 5 crops with TTE)`,
  ];
  if (!estimator) {
    lines.push('GPU estimate: not available yet (the GPU estimate, estimateRun, is not built); `sage submit --dry-run` will show it once it is');
    return lines;
  }
  const estimate = await estimator(manifest, counts);
  lines.push(`GPU estimate: ${estimate.gpuHours.toFixed(1)} GPU-hours on ${estimate.gpu}, about $${estimate.costUsd.toFixed(2)}`);
  return lines;
}
