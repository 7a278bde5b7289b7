/** `sage evaluate <manifest> --adapter <dir>`: a saved adapter on a manifest's test split. */
import type { Command } from 'commander';
import { parseLocation, parseNonNegativeInteger, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface EvaluateFlags {
  adapter: string;
  weights?: string;
  tte?: boolean;
  batchSize?: number;
  out?: string;
  json?: boolean;
  workers?: number;
}

export function registerEvaluate(program: Command, output: CliOutput): void {
  program
    .command('evaluate')
    .description("evaluate a trained adapter (a run's results folder) on a manifest's test split: all / head / medium / tail and per class")
    .argument('<manifest>', 'manifest JSON whose test split to use (path or s3:// URI)', parseLocation)
    .requiredOption('--adapter <dir>', 'folder holding adapter.json and adapter.safetensors (e.g. results/runs/<runId>/<index>/)', parseLocation)
    .option('--weights <dir>', "CLIP weights folder (default: the manifest's weights)", parseLocation)
    .option('--tte', 'five-crop test-time ensemble (default: as the adapter was trained)')
    .option('--batch-size <n>', 'images per forward pass (default: as many as the device memory holds, at most the training batch)', parsePositiveInteger)
    .option('-o, --out <file>', 'also write the metrics document here (path or s3:// URI)', parseLocation)
    .option('--json', 'print the metrics document instead of the table')
    .option('--workers <n>', 'image decoding threads', parseNonNegativeInteger)
    .action(async (manifestUri: string, flags: EvaluateFlags) => {
      const startedAt = new Date();
      const { loadManifest, resolveReference, classNames } = await import('../../manifest');
      const { initBackend, loadClip } = await import('../../clip');
      const { loadAdapter, evaluate, buildMetricsDocument } = await import('../../engine');
      const { openBatchSource } = await import('../../data');
      const { storeFor } = await import('../../storage');
      const { CliInputError } = await import('../exit-codes');
      const backend = await initBackend({ log: (line) => output.err(line) });
      const { manifest, counts } = await loadManifest(manifestUri, { checkStorage: false });
      const clip = await loadClip(flags.weights ?? resolveReference(manifest.weights, manifestUri), { log: (line) => output.err(line) });
      const model = await loadAdapter({ store: await storeFor(flags.adapter), uri: flags.adapter }, { clip });
      const names = classNames(manifest);
      if (names.length !== model.numClasses || names.some((name, i) => name !== model.classNames[i])) {
        throw new CliInputError(`the adapter's ${model.numClasses} classes differ from the manifest's ${names.length}: they must be the same names in the same order`);
      }
      const test = await openBatchSource({ manifest, manifestUri, split: 'test', imageSize: clip.config.vision.imageSize, workers: flags.workers });
      try {
        const trainCounts = counts.train ?? names.map(() => 0);
        // Without --batch-size, as many images per pass as this device holds (every crop of a pass is in memory at once).
        const { deviceFacts } = await import('../../clip');
        const { planEvaluationBatch } = await import('../../trainer');
        const crops = (flags.tte ?? model.settings.tte) ? 5 : 1;
        const batchSize = flags.batchSize ?? planEvaluationBatch(model.settings, clip.config, model.numClasses, await deviceFacts(), crops).images;
        const evaluation = await evaluate({ model, test, trainCounts, groupCounts: manifest.evaluation?.groupCounts, tte: flags.tte, batchSize });
        const parameters = model.parameterReport();
        const metrics = buildMetricsDocument({
          runId: `evaluate-${startedAt.toISOString()}`,
          datasetName: manifest.name,
          settings: model.settings,
          train: { status: 'completed', epochs: [], parameters, trainSeconds: 0, imagesSeen: 0, trainImagesPerSecond: 0, resumedFrom: null, zeroShotFeatures: 'unused', diverged: null },
          evaluation,
          backend,
          startedAt,
          finishedAt: new Date(),
        });
        if (flags.out) await (await storeFor(flags.out)).put(flags.out, `${JSON.stringify(metrics, null, 2)}\n`, { contentType: 'application/json' });
        if (flags.json) {
          output.out(JSON.stringify(metrics, null, 2));
          return;
        }
        const { buildReportModel, methodsTable } = await import('../../report');
        const { summaryFromMetrics } = await import('../report-input');
        output.out(methodsTable(buildReportModel({ summary: summaryFromMetrics([metrics], manifest.name), metrics: [metrics] })));
        if (flags.out) output.out(`\nmetrics: ${flags.out}`);
      } finally {
        await test.close();
        model.dispose();
        clip.dispose();
      }
    });
}
