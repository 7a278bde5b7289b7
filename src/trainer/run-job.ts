/**
 * One training job end to end, as the Batch container and `sage train` run it: read and
 * validate the manifest, resolve the sweep entry's settings, load CLIP, build the model,
 * train (resuming from the job's checkpoint), evaluate, and write metrics.json, log.jsonl
 * and the adapter under `<resultsUri>/<sweepIndex>/`. The zero-shot method skips training.
 *
 * Around the engine, for the GPU job (SPEC section 6): the backend the job requires
 * (SAGE_REQUIRED_BACKEND) or none; the micro-batch from the memory model when the settings leave
 * it null, halved on an out-of-memory error; the attempt's deadline (SAGE_ATTEMPT_SECONDS), before
 * which it checkpoints and stops "to be continued"; progress.json after each checkpoint; the
 * device facts and the micro-batch in metrics.json.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ZodError } from 'zod';
import { attemptFromEnv, type AttemptContext, type JobSpec } from '../contracts/job';
import { RUN_BEST_ADAPTER_DIR, TEXT_CLASSIFIER_DIR } from '../contracts/layout';
import { MicroBatchBackoffRecord, type DeviceFacts, type MetricsDocument } from '../contracts/metrics';
import type { TrainingLogRecord } from '../contracts/training-log';
import { passesPerImage } from '../estimate';
import { resolveSettings, type Settings, type SettingsOverrides } from '../contracts/settings';
import type { ProgressReporter } from '../engine';
import { classNames as classNamesOf, loadManifest, resolveReference, sweepEntry, type Manifest } from '../manifest';
import { isS3Uri, joinUri, storeFor } from '../storage';
import { PositionLog, withDeadline, writeProgress } from './attempt';
import { AttemptDeadline, formatSeconds, type AttemptDeadlineOptions } from './deadline';
import { TrainerBackendError, TrainerDeadlineError, TrainerSettingsError, TrainerStoppedError } from './errors';
import { jobLocations, type JobLocations } from './job-locations';
import { microBatchChoice, planEvaluationBatch, planMicroBatch } from './micro-batch';
import { consoleProgress, TrainingLogFile } from './progress';

export interface RunJobOptions {
  /** A last settings layer over the manifest's `training` and sweep entry (the CLI's flags). */
  overrides?: SettingsOverrides;
  /** Abort to stop after the current step with a checkpoint (SIGTERM in the container). */
  signal?: AbortSignal;
  /** Default: lines on stderr. */
  progress?: ProgressReporter;
  /** Where the CLIP weights and the text classifier are cached; default the CLIP loader's own default. */
  cacheDir?: string;
  /** Decode worker threads per split; default the loader's (CPU cores). */
  workers?: number;
  /** One-line notes (backend, resume, files written). Default: stderr. */
  log?: (line: string) => void;
  /** A CLIP weights folder instead of the manifest's (`sage train --weights`). */
  weights?: string;
  /** The attempt's context (required backend, timeout, attempt number); default attemptFromEnv(). */
  attempt?: AttemptContext;
  /** The deadline's clock, start and smallest margin (tests cut a run into attempts with a virtual clock). */
  deadline?: Omit<AttemptDeadlineOptions, 'attemptSeconds'>;
}

/** `s3://b/w/` and `s3://b/w` name the same folder. */
function sameFolder(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

export interface RunJobResult {
  metrics: MetricsDocument;
  locations: JobLocations;
  settings: Settings;
}

/** The device a back-off happened on, as its log record names it: the backend, and the GPU's name and memory. */
function deviceLabel(device: Pick<DeviceFacts, 'backend' | 'gpu'>): string {
  return device.gpu ? `${device.backend} ${device.gpu.name} ${device.gpu.memoryMiB} MiB` : device.backend;
}

/** The micro-batch back-offs earlier attempts recorded in the log (out-of-memory warnings with their figures), with their devices. */
function earlierBackoffs(records: readonly TrainingLogRecord[]): { backoff: MicroBatchBackoffRecord; device: unknown }[] {
  const found: { backoff: MicroBatchBackoffRecord; device: unknown }[] = [];
  for (const record of records) {
    if (record.type !== 'warning' || record.kind !== 'out-of-memory') continue;
    const parsed = MicroBatchBackoffRecord.safeParse({ error: record.message, ...record.details });
    if (parsed.success) found.push({ backoff: parsed.data, device: record.details?.device });
  }
  return found;
}

/**
 * Whether an evaluation of `images` images and the deadline's margin fit in the attempt's time
 * left, the evaluation estimated from this attempt's seconds per training image and the passes
 * an image costs in each. An attempt that has not trained yet always evaluates (it resumed at an
 * evaluation). When it does not fit, the deadline is stopped with the reason.
 */
function evaluationFits(deadline: AttemptDeadline, settings: Settings, images: number, split: string): boolean {
  if (!deadline.stepsObserved()) return true;
  const passes = passesPerImage(settings);
  const seconds = deadline.secondsPerTrainingImage() * (passes.test / Math.max(1, passes.train)) * images;
  if (deadline.fits(seconds)) return true;
  deadline.stop(`the evaluation of ${images} ${split} images (about ${formatSeconds(seconds)}) and the margin of ${formatSeconds(deadline.marginSeconds())} do not fit in the ${formatSeconds(deadline.remainingSeconds())} left`);
  return false;
}

/** The settings of the job's sweep entry, with the CLI's layer on top. */
export function jobSettings(manifest: Manifest, sweepIndex: number, overrides?: SettingsOverrides): Settings {
  try {
    return resolveSettings(manifest.training, sweepEntry(manifest, sweepIndex), overrides);
  } catch (error) {
    const detail = error instanceof ZodError ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (error as Error).message;
    throw new TrainerSettingsError(`the settings of sweep entry ${sweepIndex} are invalid: ${detail}`, { cause: error });
  }
}

export async function runJob(spec: JobSpec, options: RunJobOptions = {}): Promise<RunJobResult> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const startedAt = new Date();
  // Heavy modules load here, not at import time, so the CLI's other commands stay fast.
  const { initBackend, loadClip, loadClipTokenizer, ClipBackendUnavailableError } = await import('../clip');
  const { deviceFacts } = await import('../clip');
  const { adaptiveGradients, buildMetricsDocument, createSageModel, evaluate, saveAdapter, trainSage } = await import('../engine');
  const { openBatchSource } = await import('../data');
  const { pinTrainerGpu, startReplicas } = await import('./parallel');

  // Before the backend loads: with several GPUs this process keeps the first, its helper replicas the others.
  const gpus = pinTrainerGpu();
  const attempt = options.attempt ?? attemptFromEnv();
  const deadline = attempt.attemptSeconds ? new AttemptDeadline({ ...options.deadline, attemptSeconds: attempt.attemptSeconds }) : null;
  const backend = await initBackend({ log, ...(attempt.requiredBackend ? { required: attempt.requiredBackend } : {}) }).catch((error: unknown) => {
    if (attempt.requiredBackend && error instanceof ClipBackendUnavailableError) throw new TrainerBackendError(error.message, { cause: error });
    throw error;
  });
  const device = await deviceFacts();
  // The Lambda validated the manifest, against the same reference roots; the storage pass is left out because training reads every image anyway.
  const { manifest, manifestUri, counts } = await loadManifest(spec.manifestUri, { checkStorage: false, ...(spec.referenceRoots ? { referenceRoots: spec.referenceRoots } : {}) });
  const settings = jobSettings(manifest, spec.sweepIndex, options.overrides);
  const locations = jobLocations(spec);
  const names = classNamesOf(manifest);
  log(`job ${spec.runId} #${spec.sweepIndex}: ${settings.method} on "${manifest.name}" (${names.length} classes), backend ${backend}`);

  const weightsUri = options.weights ?? resolveReference(manifest.weights, manifestUri);
  // The run's session may read only the weights validation accepted: a manifest changed since then is refused here, by name.
  if (spec.weightsUri && !sameFolder(spec.weightsUri, weightsUri)) {
    throw new TrainerSettingsError(`the job was validated with the CLIP weights ${spec.weightsUri}, but the manifest now names ${weightsUri}; upload the manifest again to validate its new weights`);
  }
  // Released in reverse order whatever happens: worker threads must not keep the process alive.
  const cleanup: (() => unknown)[] = [];
  try {
    const clip = await loadClip(weightsUri, { cacheDir: options.cacheDir, log });
    cleanup.push(() => clip.dispose());
    // Data-parallel replicas (src/trainer/parallel): none for W = 1, which runs exactly the single-thread path.
    const { plan, pool: replicas } = startReplicas({ settings, backend, clip, classes: names.length, location: weightsUri, cacheDir: options.cacheDir, gpus, log });
    if (replicas) cleanup.push(() => replicas.close());
    const tokenizer = await loadClipTokenizer(weightsUri);
    // On AWS the container's disk lives one attempt: the text classifier is kept beside the
    // checkpoints instead, so a resumed attempt reads W^zs rather than encoding C × 60 prompts again.
    const classifierCache = isS3Uri(locations.checkpointDir) ? joinUri(locations.checkpointDir, TEXT_CLASSIFIER_DIR) : options.cacheDir;
    const model = await createSageModel({
      clip,
      tokenizer,
      classNames: names,
      settings,
      ...(classifierCache ? { cacheDir: classifierCache } : {}),
      ...(replicas ? { encoder: replicas.encodePrompts } : {}),
      log,
    });
    cleanup.push(() => model.dispose());
    if (replicas) await replicas.attach(model);
    const parallel = replicas ? { gradients: replicas.gradients, logits: replicas.logits } : {};
    const imageSize = clip.config.vision.imageSize;
    const train = await openBatchSource({ manifest, manifestUri, split: 'train', imageSize, workers: options.workers, crop: { scale: [settings.cropScaleMin, 1] } });
    cleanup.push(() => train.close());
    const test = await openBatchSource({ manifest, manifestUri, split: 'test', imageSize, workers: options.workers });
    cleanup.push(() => test.close());
    // Evaluations during training use the held-out split when there is one, so the test split is seen once, at the end.
    const evaluationSplit = manifest.val ? 'val' : 'test';
    const evaluating = settings.evalEvery > 0 && settings.method !== 'zero-shot';
    const val = evaluating && manifest.val ? await openBatchSource({ manifest, manifestUri, split: 'val', imageSize, workers: options.workers }) : undefined;
    if (val) cleanup.push(() => val.close());

    const trainCounts = counts.train ?? countLabels(await train.labels(), names.length);
    const checkpointStore = await storeFor(locations.checkpointDir);
    const resultsStore = await storeFor(locations.resultsDir);
    if (!isS3Uri(locations.checkpointDir)) {
      const removed = await removeLocalTemporaryFiles(locations.checkpointDir);
      if (removed.length > 0) log(`removed ${removed.length} half-written file(s) from ${locations.checkpointDir}: ${removed.join(', ')}`);
    }
    // The micro-batch: the setting, or the largest the memory model fits in this device (SPEC section 6).
    const logFile = await TrainingLogFile.open(resultsStore, locations.logUri);
    const trainingLog = new PositionLog(logFile, Math.ceil(train.count / settings.batchSize));
    // Earlier attempts' back-offs are in the log they continued: metrics.json lists the run's, not only this attempt's,
    // and an attempt on the same device starts where the last back-off left the micro-batch instead of running out again.
    const earlier = earlierBackoffs(logFile.kept());
    const backoffs: MicroBatchBackoffRecord[] = earlier.map((e) => e.backoff);
    const planned = planMicroBatch(settings, clip.config, names.length, device);
    // Only a back-off on this same device says what fits here (Batch may place the next attempt on another type).
    const lastBackoff = earlier.filter((e) => e.device === deviceLabel(device)).at(-1)?.backoff;
    const microPlan =
      lastBackoff && settings.microBatchSize === null && lastBackoff.to < planned.chosen
        ? { ...planned, chosen: lastBackoff.to, reason: 'memory-model' as const, detail: `${planned.detail}; an earlier attempt ran out of memory at ${lastBackoff.from} and went on with ${lastBackoff.to} (epoch ${lastBackoff.epoch}, step ${lastBackoff.step})` }
        : planned;
    let gradients = parallel.gradients;
    let finalMicroBatch = (): number => microPlan.chosen;
    if (settings.method !== 'zero-shot') {
      log(`micro-batch ${microPlan.chosen} (${microPlan.reason}): ${microPlan.detail}`);
      if (microPlan.warning) log(`warning: ${microPlan.warning}`);
      trainingLog.append({ type: 'micro-batch', microBatch: microPlan.chosen, reason: microPlan.reason, detail: microPlan.detail, time: new Date().toISOString() });
      if (settings.microBatchSize === null) {
        const adaptive = adaptiveGradients({
          microBatchSize: microPlan.chosen,
          ...(parallel.gradients ? { compute: parallel.gradients } : {}),
          onBackoff: (b) => {
            const at = trainingLog.current();
            backoffs.push({ epoch: at.epoch, step: at.step, from: b.from, to: b.to, error: b.error });
            const message = `out of memory at epoch ${at.epoch}, step ${at.step} with micro-batch ${b.from}: redoing the step with ${b.to} (${b.error})`;
            log(`warning: ${message}`);
            trainingLog.append({ type: 'warning', kind: 'out-of-memory', message, time: new Date().toISOString(), details: { epoch: at.epoch, step: at.step, from: b.from, to: b.to, error: b.error, device: deviceLabel(device) } });
          },
        });
        gradients = adaptive.gradients;
        finalMicroBatch = adaptive.microBatchSize;
      }
    }
    // Evaluation passes hold every crop's tensors at once: sized by memory too (5 crops an image with TTE).
    const evaluationBatch = planEvaluationBatch(settings, clip.config, names.length, device, settings.tte ? 5 : 1);
    log(`evaluation: ${evaluationBatch.detail}`);
    const progressFile = { runId: spec.runId, sweepIndex: spec.sweepIndex, ...(attempt.attempt !== undefined ? { attempt: attempt.attempt } : {}) };
    const progress = options.progress ?? consoleProgress();
    const signals = [options.signal, deadline?.signal].filter((s): s is AbortSignal => s !== undefined);
    deadline?.markTrainingStart();
    const trained = await trainSage({
      model,
      train,
      trainCounts,
      checkpoint: { store: checkpointStore, uri: locations.checkpointDir },
      log: trainingLog,
      progress: deadline ? withDeadline(progress, deadline, settings.batchSize) : progress,
      ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      // An evaluation during training must fit before the deadline as the final one must.
      ...(deadline && evaluating ? { beforeEvaluation: (images: number) => evaluationFits(deadline, settings, images, evaluationSplit) } : {}),
      onCheckpoint: async (point) => {
        await writeProgress(resultsStore, locations.progressUri, progressFile, point);
      },
      ...parallel,
      ...(gradients ? { gradients } : {}),
      evaluationBatchSize: evaluationBatch.images,
      ...(evaluating ? { test: val ?? test, evaluationSplit, groupCounts: manifest.evaluation?.groupCounts, best: { store: resultsStore, uri: joinUri(locations.resultsDir, RUN_BEST_ADAPTER_DIR) } } : {}),
    });
    if (trained.status === 'stopped') {
      if (deadline?.reason && !options.signal?.aborted) throw new TrainerDeadlineError(locations.checkpointDir, trainingLog.current(), deadline.reason);
      throw new TrainerStoppedError(locations.checkpointDir, trained.epochs.length);
    }
    // The kept weights' evaluation on test during training is the final one already; on val it is not.
    const reused = evaluationSplit === 'test' ? trained.keptEvaluation : null;
    if (deadline && !reused && !evaluationFits(deadline, settings, test.count, 'test')) throw new TrainerDeadlineError(locations.checkpointDir, trainingLog.current(), deadline.reason!);
    const evaluation = reused ? reused : await evaluate({ model, test, trainCounts, groupCounts: manifest.evaluation?.groupCounts, batchSize: evaluationBatch.images, ...(replicas ? { logits: replicas.logits } : {}) });
    if (trained.kept?.rule === 'best') log(`metrics.json reports the weights of epoch ${trained.kept.epoch} (the best by ${settings.keepMetric} on ${evaluationSplit}), evaluated on test`);
    // Saved for every method, zero-shot included, so `sage predict` works with any run.
    await saveAdapter(model, { store: resultsStore, uri: locations.resultsDir });
    const metrics = buildMetricsDocument({
      runId: spec.runId,
      sweepIndex: spec.sweepIndex,
      datasetName: manifest.name,
      settings,
      train: trained,
      evaluation,
      backend,
      replicas: plan.count,
      device,
      ...(settings.method !== 'zero-shot' ? { microBatch: microBatchChoice(microPlan, finalMicroBatch(), backoffs) } : {}),
      startedAt,
      finishedAt: new Date(),
    });
    // metrics.json last: its presence is what tells the aggregation step the run succeeded.
    await resultsStore.put(locations.metricsUri, `${JSON.stringify(metrics, null, 2)}\n`, { contentType: 'application/json' });
    log(`wrote ${locations.metricsUri}`);
    return { metrics, locations, settings };
  } finally {
    for (const release of cleanup.reverse()) await release();
  }
}

/** Items per class from the split's labels, `[C]`. */
export function countLabels(labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/**
 * Deletes the `*.tmp` files directly in a local folder. The local store writes each object to
 * a temporary file and renames it into place, and hides those files from list(); a process
 * killed mid-write (a SIGKILL, a lost host) leaves one behind, as large as a state file. Only
 * this job writes its checkpoint folder, and it has not started writing yet.
 */
export async function removeLocalTemporaryFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  }
  const stale = entries.filter((e) => e.isFile() && e.name.endsWith('.tmp')).map((e) => e.name);
  for (const name of stale) await rm(path.join(dir, name), { force: true });
  return stale;
}
