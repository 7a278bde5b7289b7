/**
 * The size of a sweep before it starts, in images; its GPU time and cost come from the
 * estimate (src/estimate, SPEC section 6: FLOPs from the CLIP config, the GPU table), whose
 * lines the command passes in.
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
export async function describeSweep(manifest: Manifest, counts: { train: number; test: number }, estimate?: readonly string[]): Promise<string[]> {
  const work = sweepWork(manifest, counts);
  const lines = [
    `sweep: ${work.runs} runs (${work.trainedRuns} trained): ${count(work.trainingImages)} training images in all (epochs × ${count(counts.train)}), ${count(work.testCrops)} test crops (${count(counts.test)} test images, 5 crops with TTE)`,
  ];
  if (!estimate) {
    lines.push("GPU estimate: none (the CLIP weights' config.json could not be read)");
    return lines;
  }
  lines.push('GPU estimate:', ...estimate.map((line) => `  ${line}`));
  return lines;
}
