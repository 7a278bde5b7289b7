/**
 * `sage train`: one training job, the same function the Batch container runs. Either from
 * the job environment (`--from-env`, what the container and the local pipeline use) or
 * from a manifest and flags. SIGTERM checkpoints and exits 1 so Batch retries and resumes.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { jobSpecFromEnv, type JobSpec } from '../../contracts/job';
import { CliInputError, CliRunFailedError } from '../exit-codes';
import { locationOption, parseLocation, parseNonNegativeInteger } from '../options';
import type { CliOutput } from '../output';
import { addSettingsFlags, type SettingsFlags } from '../settings-flags';
import { addConfigFlags, type ConfigFlags } from '../settings-layer';

interface TrainFlags extends SettingsFlags, ConfigFlags {
  fromEnv?: boolean;
  out: string;
  sweepIndex: number;
  checkpoint?: string;
  runId?: string;
  cacheDir?: string;
  workers?: number;
  weights?: string;
  json?: boolean;
}

/** `sage run --workers` reaches its child trainers through this variable. */
export const DECODE_WORKERS_ENV = 'SAGE_DECODE_WORKERS';

function workersFromEnv(): number | undefined {
  const value = process.env[DECODE_WORKERS_ENV];
  const n = value === undefined || value === '' ? Number.NaN : Number(value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

function localRunId(): string {
  return `train-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

function jobSpecFromFlags(manifest: string | undefined, flags: TrainFlags): JobSpec {
  if (flags.fromEnv) {
    if (manifest) throw new CliInputError('give either a manifest or --from-env, not both');
    try {
      return jobSpecFromEnv();
    } catch (error) {
      throw new CliInputError((error as Error).message);
    }
  }
  if (!manifest) throw new CliInputError('missing the manifest argument (or --from-env to read the job from SAGE_* variables)');
  const runId = flags.runId ?? localRunId();
  const resultsUri = flags.out;
  return {
    runId,
    manifestUri: manifest,
    resultsUri,
    checkpointUri: flags.checkpoint ?? (resultsUri.startsWith('s3://') ? `${resultsUri.replace(/\/+$/, '')}/checkpoints/` : path.join(resultsUri, 'checkpoints')),
    sweepIndex: flags.sweepIndex,
  };
}

export function registerTrain(program: Command, output: CliOutput): void {
  const command = program
    .command('train')
    .description('train one run of a manifest (one sweep entry) and write metrics.json, log.jsonl and the adapter')
    .argument('[manifest]', 'manifest JSON (path or s3:// URI)', parseLocation)
    .option('--from-env', 'read the job from SAGE_RUN_ID, SAGE_MANIFEST_URI, SAGE_RESULTS_URI, SAGE_CHECKPOINT_URI, SAGE_SWEEP_INDEX / AWS_BATCH_JOB_ARRAY_INDEX (the container)')
    .addOption(locationOption('-o, --out <dir>', 'results folder or s3:// prefix; files go under <out>/<sweep index>/', 'out/train'))
    .option('--sweep-index <n>', "which entry of the manifest's sweep to run", parseNonNegativeInteger, 0)
    .option('--checkpoint <dir>', 'checkpoint folder or s3:// prefix (default <out>/checkpoints); a run with the same one resumes', parseLocation)
    .option('--run-id <id>', 'run id recorded in metrics.json (default train-<time>)')
    .option('--cache-dir <dir>', 'cache for CLIP weights and text classifiers', parseLocation)
    .option('--workers <n>', 'image decoding threads (default: CPU cores)', parseNonNegativeInteger)
    .option('--weights <dir>', "CLIP weights folder (default: the manifest's weights)", parseLocation)
    .option('--json', 'print {metricsUri, resultsDir, checkpointDir, metrics} as JSON on stdout instead of the table');
  addConfigFlags(addSettingsFlags(command)).action(async (manifest: string | undefined, flags: TrainFlags) => {
    const spec = jobSpecFromFlags(manifest, flags);
    const { settingsLayerFrom, printConfig, parsedManifestAt } = await import('../settings-layer');
    const overrides = await settingsLayerFrom(flags);
    if (flags.printConfig) {
      printConfig(spec.manifestUri, await parsedManifestAt(spec.manifestUri), overrides, [spec.sweepIndex], output);
      return;
    }
    const { runJob } = await import('../../trainer');
    const { abortOnTermination } = await import('../../trainer');
    const { jobKind } = await import('../../trainer');
    const kind = await jobKind(spec.manifestUri).catch(() => 'train' as const);
    if (kind === 'predict') {
      if (!flags.fromEnv) throw new CliInputError(`${spec.manifestUri} is an inference manifest ("kind": "predict"): label its images with sage predict ${spec.manifestUri}, or run it through the pipeline with sage run ${spec.manifestUri}`);
      // The container's command for an inference slice (the local pipeline runs it too).
      const { runPredictJob } = await import('../../trainer');
      const { files } = await runPredictJob(spec, { ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}), ...(flags.workers !== undefined || workersFromEnv() !== undefined ? { workers: flags.workers ?? workersFromEnv()! } : {}), log: (line) => output.err(line) });
      output.out(`predictions: ${files.predictions}`);
      return;
    }
    const stop = abortOnTermination();
    try {
      const workers = flags.workers ?? workersFromEnv();
      const { metrics, locations } = await runJob(spec, { overrides, signal: stop.signal, cacheDir: flags.cacheDir, workers, weights: flags.weights, log: (line) => output.err(line) });
      if (flags.json) {
        output.out(JSON.stringify({ metricsUri: locations.metricsUri, resultsDir: locations.resultsDir, checkpointDir: locations.checkpointDir, metrics }, null, 2));
        return;
      }
      // A job run for the pipeline (container, local pipeline) leaves the table to the aggregation step.
      if (!flags.fromEnv) {
        const { buildReportModel, methodsTable } = await import('../../report');
        const { summaryFromMetrics } = await import('../report-input');
        output.out(methodsTable(buildReportModel({ summary: summaryFromMetrics([metrics], metrics.dataset.name), metrics: [metrics] })));
        output.out('');
      }
      output.out(`metrics: ${locations.metricsUri}`);
    } catch (error) {
      const { TrainerBackendError, TrainerDeadlineError, TrainerSettingsError, TrainerStoppedError } = await import('../../trainer/errors');
      // Stopped with a checkpoint (SIGTERM, the attempt's deadline): the same command resumes.
      if (error instanceof TrainerStoppedError || error instanceof TrainerDeadlineError || error instanceof TrainerBackendError) throw new CliRunFailedError(error.message);
      if (error instanceof TrainerSettingsError) throw new CliInputError(error.message);
      throw error;
    } finally {
      stop.dispose();
    }
  });
}
