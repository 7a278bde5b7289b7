/**
 * The GPU time and cost of reproducing each of the paper's tables, from the estimate
 * (src/estimate: FLOPs from ViT-B/16's config, the default GPU table and budget) and the
 * benchmarks' real sizes. Prints the markdown table docs/reproducing.md quotes:
 *
 *   npx tsx scripts/repro-estimates.ts
 */
import { resolveSettings, methodLabel } from '../src/contracts/settings';
import { DEFAULT_BUDGET, estimateSweep, formatHours, formatUsd, type MemoryShapes, type SweepRun } from '../src/estimate';
import { PAPER_DATASET_INFO, type PaperDataset } from '../src/repro/datasets';
import { REPRO_TABLES } from '../src/repro/tables';

const VIT_B16: MemoryShapes = {
  vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, imageSize: 224, patchSize: 16, numHeads: 12 },
  text: { hiddenSize: 512, intermediateSize: 2048, numLayers: 12, maxPositionEmbeddings: 77, vocabSize: 49408 },
  projectionDim: 512,
};

/** Training and test images of each benchmark (CIFAR-100-LT: floor(500·β^(-i/99)) summed; the others their standard lists). */
export const BENCHMARK_SIZES: Record<PaperDataset, { trainImages: number; testImages: number }> = {
  'cifar100-lt-r100': { trainImages: 10_847, testImages: 10_000 },
  'cifar100-lt-r50': { trainImages: 12_608, testImages: 10_000 },
  'cifar100-lt-r10': { trainImages: 19_573, testImages: 10_000 },
  'places-lt': { trainImages: 62_500, testImages: 36_500 },
  'imagenet-lt': { trainImages: 115_846, testImages: 50_000 },
  inat2018: { trainImages: 437_513, testImages: 24_426 },
};

const refused: string[] = [];
const lines = ['| Table | Dataset | Runs | GPU time on g4dn.xlarge (T4) | on g5.xlarge (A10G) | cost on demand (T4) | cost spot (T4) |', '|---|---|---:|---:|---:|---:|---:|'];
for (const table of REPRO_TABLES) {
  for (const dataset of table.datasets) {
    const runs: SweepRun[] = table.rows.map((row, sweepIndex) => {
      const settings = resolveSettings({ preset: dataset }, row.overrides);
      return { sweepIndex, label: methodLabel(settings), method: settings.method, components: settings.components, epochs: settings.epochs, tte: settings.tte, bottleneck: settings.bottleneck, sgProjection: settings.sgProjection };
    });
    const sweep = estimateSweep(VIT_B16, runs, { ...BENCHMARK_SIZES[dataset], classes: PAPER_DATASET_INFO[dataset].classes }, DEFAULT_BUDGET);
    for (const entry of sweep.entries) if (!entry.estimate.fits) refused.push(`${table.source} ${PAPER_DATASET_INFO[dataset].title} ${entry.method}: ${entry.estimate.problem}`);
    const hoursOn = (type: string): number => sweep.entries.reduce((sum, entry) => sum + entry.estimate.byInstance.find((e) => e.instanceType === type)!.hours, 0);
    const costOn = (type: string, kind: 'onDemandUsd' | 'spotUsd'): number => sweep.entries.reduce((sum, entry) => sum + entry.estimate.byInstance.find((e) => e.instanceType === type)![kind], 0);
    lines.push(
      `| ${table.source} | ${PAPER_DATASET_INFO[dataset].title} | ${runs.length} | ${formatHours(hoursOn('g4dn.xlarge'))} | ${formatHours(hoursOn('g5.xlarge'))} | ${formatUsd(costOn('g4dn.xlarge', 'onDemandUsd'))} | ${formatUsd(costOn('g4dn.xlarge', 'spotUsd'))} |`,
    );
  }
}
console.log(lines.join('\n'));
// The stack refuses a run its attempts cannot hold: none of these should be, under the defaults.
console.log(refused.length === 0 ? `\nEvery run fits the default budget (${DEFAULT_BUDGET.jobTimeoutMinutes} min × ${DEFAULT_BUDGET.maxAttempts} attempts, ${DEFAULT_BUDGET.spotRetries} kept for spot).` : `\nRefused under the default budget:\n${refused.join('\n')}`);
