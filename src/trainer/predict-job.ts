/**
 * Inference: label images with a trained adapter (SPEC section 8). One function streams
 * predictions from any image source (streamPredictions), so the Batch job (one slice of an
 * inference manifest, runPredictJob) and `sage predict` write the same lines for the same
 * adapter and images. The model is loaded once; images go through the decode workers and the
 * test (or five-crop) transform of evaluation; unreadable images are skipped and reported,
 * or stop the run with `strict`.
 */
import type { ClipModel } from '../clip/types';
import type { ImageBatch } from '../contracts/batches';
import { type DeviceFacts, MetricsDocument } from '../contracts/metrics';
import { RunRecord } from '../contracts/documents';
import { runChildFiles, RUN_FILES, RUN_RECORD_FILE } from '../contracts/layout';
import {
  accumulate,
  newAccumulator,
  predictionCsvHeader,
  predictionCsvLine,
  predictionJsonLine,
  PREDICTIONS_VERSION,
  trimLeastConfident,
  type PredictionRecord,
  type PredictionSummary,
} from '../contracts/predictions';
import { attemptFromEnv, type AttemptContext, type JobSpec } from '../contracts/job';
import type { BadImageReport } from '../data/errors';
import type { SageModel } from '../engine';
import {
  decodeManifestBytes,
  ManifestValidationError,
  PREDICT_DEFAULTS,
  readManifestBytes,
  referencePolicyFor,
  resolveReference,
  sliceRange,
  validatePredictManifest,
  type PredictImagesListing,
} from '../manifest';
import { joinUri, ObjectNotFoundError, storeFor, type ObjectStore } from '../storage';
import { TrainerBackendError, TrainerSettingsError } from './errors';
import { planEvaluationBatch } from './micro-batch';

/**
 * The most images per forward pass of inference: enough to keep a GPU busy. Fewer where the
 * device's memory holds fewer (planEvaluationBatch: with TTE each image is five crops).
 */
export const PREDICT_BATCH = 32;

export interface StreamPredictionsOptions {
  model: SageModel;
  images: PredictImagesListing;
  range?: { start: number; end: number };
  topK: number;
  tte: boolean;
  workers?: number;
  /** Fail on the first unreadable image instead of skipping it. */
  strict?: boolean;
  store?: ObjectStore;
  /** Images per forward pass. Default: what the device holds, at most PREDICT_BATCH. */
  batchSize?: number;
  /** Where the chosen batch size is said. */
  log?: (line: string) => void;
  /** Called with each image's predictions, in source order. */
  onRecord: (record: PredictionRecord) => void | Promise<void>;
  /** Called for each skipped image. */
  onSkip?: (report: BadImageReport) => void;
  /** Images done so far, after each batch. */
  onProgress?: (done: number, total: number) => void;
}

/** The top-k of every image of the source, in order. Resolves to the count labelled and the skipped ones. */
export async function streamPredictions(options: StreamPredictionsOptions): Promise<{ images: number; skipped: BadImageReport[]; seconds: number; batchSize: number }> {
  const { openImageSource } = await import('../data');
  const { predict } = await import('../engine');
  const { model } = options;
  const batchSize = options.batchSize ?? (await predictionBatch(model, options.tte, options.log));
  const skipped: BadImageReport[] = [];
  const { source, skip, count } = await openImageSource({
    images: options.images,
    ...(options.range ? { range: options.range } : {}),
    imageSize: model.clip.config.vision.imageSize,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    onBadImage: options.strict ? 'fail' : 'skip',
    reportBadImage: (report) => {
      skipped.push(report);
      options.onSkip?.(report);
    },
    ...(options.store ? { store: options.store } : {}),
  });
  const started = performance.now();
  let seen = 0;
  let labelled = 0;
  try {
    const batches = source.batches(0, { batchSize, shuffle: false, seed: 0, transform: options.tte ? 'tte' : 'test', skip });
    for await (const full of batches) {
      // Shards serve whole shards: stop at the range's end.
      const batch: ImageBatch = seen + full.n > count ? truncate(full, count - seen) : full;
      seen += full.n;
      for (const prediction of await predict(model, batch, { k: options.topK })) {
        await options.onRecord({ key: prediction.key ?? '', top: prediction.top.map((entry) => ({ index: entry.index, name: entry.name, score: entry.probability })) });
        labelled += 1;
      }
      options.onProgress?.(Math.min(seen + skipped.length, count), count);
      if (seen >= count) break;
    }
  } finally {
    await source.close();
  }
  return { images: labelled, skipped, seconds: (performance.now() - started) / 1000, batchSize };
}

/** Images per inference pass on a device: the evaluation plan's fit (five crops an image with TTE), at most PREDICT_BATCH. */
export function predictionBatchPlan(model: Pick<SageModel, 'settings' | 'classNames'> & { clip: Pick<ClipModel, 'config'> }, tte: boolean, device: Pick<DeviceFacts, 'backend' | 'gpu'>): { images: number; detail: string } {
  return planEvaluationBatch({ ...model.settings, batchSize: PREDICT_BATCH }, model.clip.config, model.classNames.length, device, tte ? 5 : 1);
}

async function predictionBatch(model: SageModel, tte: boolean, log?: (line: string) => void): Promise<number> {
  const { deviceFacts } = await import('../clip');
  const plan = predictionBatchPlan(model, tte, await deviceFacts());
  log?.(`inference: ${plan.detail}`);
  return plan.images;
}

/** The first `n` items of a batch (crops stay together: item-major rows). */
function truncate(batch: ImageBatch, n: number): ImageBatch {
  const perItem = batch.images.length / batch.n;
  return { ...batch, images: batch.images.subarray(0, n * perItem), labels: batch.labels.subarray(0, n), keys: batch.keys.slice(0, n), n };
}

export interface PredictJobOptions {
  workers?: number;
  cacheDir?: string;
  log?: (line: string) => void;
  /** The attempt's context (its required backend); default attemptFromEnv(). */
  attempt?: AttemptContext;
}

export interface PredictJobResult {
  summary: PredictionSummary;
  files: { predictions: string; csv: string; summary: string };
}

/** The training counts of the adapter's own run (its metrics.json beside it), when there is one. */
async function adapterTrainCounts(adapterUri: string, classes: number): Promise<number[] | undefined> {
  const uri = joinUri(adapterUri, RUN_FILES.metrics);
  try {
    const store = await storeFor(uri);
    if (!(await store.exists(uri))) return undefined;
    const parsed = MetricsDocument.safeParse(JSON.parse(await store.getText(uri, { maxBytes: 64 * 1024 * 1024 })));
    if (!parsed.success || parsed.data.perClass.length !== classes) return undefined;
    return [...parsed.data.perClass].sort((a, b) => a.index - b.index).map((c) => c.trainCount);
  } catch {
    return undefined; // the report then shows predicted counts alone
  }
}

/** A run record is a few kilobytes per slice; anything larger is not one. */
const MAX_RUN_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * The child's slice against what validation planned. Validation wrote the run record
 * (run.json in the job's results folder, runs/<runId>/) before submitting the job, with the
 * image count it validated and each slice's range. The child lists the folder, prefix or
 * index again, so images added or removed since would shift every slice silently; this
 * refuses that, naming both counts. A job without a record of its run (started by hand with
 * --from-env) is not checked, and says so.
 */
async function checkPlannedSlice(spec: JobSpec, imageCount: number, range: { start: number; end: number }, log: (line: string) => void): Promise<void> {
  const uri = joinUri(spec.resultsUri, RUN_RECORD_FILE);
  let text: string;
  try {
    text = await (await storeFor(uri)).getText(uri, { maxBytes: MAX_RUN_RECORD_BYTES });
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    log(`inference ${spec.runId}: no run record at ${uri}, so the image count is not checked against validation's`);
    return;
  }
  let parsed: ReturnType<typeof RunRecord.safeParse>;
  try {
    parsed = RunRecord.safeParse(JSON.parse(text));
  } catch (error) {
    throw new TrainerSettingsError(`the run record ${uri} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!parsed.success) throw new TrainerSettingsError(`the run record ${uri} is not a run record: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const record = parsed.data;
  if (record.runId !== spec.runId || record.kind !== 'predict' || record.images === undefined) {
    log(`inference ${spec.runId}: the run record at ${uri} holds no image count of this inference run, so the count is not checked against validation's`);
    return;
  }
  if (record.images !== imageCount) {
    throw new TrainerSettingsError(
      `the images of ${spec.manifestUri} number ${imageCount} now, but validation counted ${record.images} (run record ${uri}): ` +
        `images were added or removed since, so slice #${spec.sweepIndex} would label another range than the one planned; upload the manifest again to label the images as they are now`,
    );
  }
  const planned = record.entries.find((entry) => entry.sweepIndex === spec.sweepIndex)?.overrides.images;
  const actual = `${range.start}-${range.end}`;
  if (typeof planned === 'string' && planned !== actual) {
    throw new TrainerSettingsError(`slice #${spec.sweepIndex} was planned as images ${planned}, but the manifest now slices it as ${actual} (run record ${uri}); upload the manifest again`);
  }
}

/** One slice of an inference manifest, as the Batch container runs it: writes the slice's predictions and summary. */
export async function runPredictJob(spec: JobSpec, options: PredictJobOptions = {}): Promise<PredictJobResult> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const startedAt = new Date();
  const { initBackend, loadClip, ClipBackendUnavailableError } = await import('../clip');
  const { loadAdapter } = await import('../engine');
  const attempt = options.attempt ?? attemptFromEnv();
  // As for training: a GPU job whose GPU backend does not load stops (exit 3) instead of labelling on the CPU.
  const backend = await initBackend({ log, ...(attempt.requiredBackend ? { required: attempt.requiredBackend } : {}) }).catch((error: unknown) => {
    if (attempt.requiredBackend && error instanceof ClipBackendUnavailableError) throw new TrainerBackendError(error.message, { cause: error });
    throw error;
  });
  const manifestStore = await storeFor(spec.manifestUri);
  const decoded = decodeManifestBytes(await readManifestBytes(manifestStore, spec.manifestUri));
  if (!decoded.ok) throw new ManifestValidationError(decoded.problems, spec.manifestUri);
  // Validation ran in the Lambda; here the references are re-checked and the images listed, without the storage pass.
  const validated = await validatePredictManifest(decoded.text, {
    manifestUri: spec.manifestUri,
    checkStorage: false,
    ...(spec.referenceRoots ? { referenceRoots: spec.referenceRoots } : {}),
    ...(spec.adapterUri && spec.referenceRoots ? { adapterRoots: [spec.adapterUri] } : {}),
  });
  if (!validated.ok) throw new ManifestValidationError(validated.problems, spec.manifestUri);
  const { manifest } = validated;
  const weightsUri = resolveReference(manifest.weights, spec.manifestUri, referencePolicyFor(spec.manifestUri, spec.referenceRoots));
  if (spec.weightsUri && spec.weightsUri !== weightsUri) throw new TrainerSettingsError(`the manifest's weights resolve to ${weightsUri}, but validation accepted ${spec.weightsUri}`);
  if (spec.adapterUri && spec.adapterUri !== validated.adapterUri) throw new TrainerSettingsError(`the manifest's adapter resolves to ${validated.adapterUri}, but validation accepted ${spec.adapterUri}`);
  const topK = manifest.topK ?? PREDICT_DEFAULTS.topK;
  const tte = manifest.tte ?? PREDICT_DEFAULTS.tte;
  const range = sliceRange(validated.imageCount, manifest.sliceSize ?? PREDICT_DEFAULTS.sliceSize, spec.sweepIndex);
  await checkPlannedSlice(spec, validated.imageCount, range, log);
  log(`inference ${spec.runId} slice #${spec.sweepIndex}: images ${range.start}-${range.end} of ${validated.imageCount} with ${validated.adapterUri}, backend ${backend}`);

  const clip = await loadClip(weightsUri, { ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}), log });
  try {
    const model = await loadAdapter({ store: await storeFor(validated.adapterUri), uri: validated.adapterUri }, { clip });
    try {
      const classes = model.classNames.length;
      const jsonl: string[] = [];
      const csv: string[] = [predictionCsvHeader(topK).join(',')];
      const totals = newAccumulator(classes);
      let lastLine = 0;
      const result = await streamPredictions({
        model,
        images: validated.images,
        range,
        topK,
        tte,
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        log,
        onRecord: (record) => {
          jsonl.push(predictionJsonLine(record));
          csv.push(predictionCsvLine(record, topK));
          accumulate(totals, record);
        },
        onProgress: (done, total) => {
          if (done === total || Date.now() - lastLine > 10_000) {
            lastLine = Date.now();
            log(`labelled ${done} of ${total} images`);
          }
        },
      });
      trimLeastConfident(totals);
      const trainCounts = await adapterTrainCounts(validated.adapterUri, classes);
      const summary: PredictionSummary = {
        version: PREDICTIONS_VERSION,
        runId: spec.runId,
        slice: spec.sweepIndex,
        range,
        images: result.images,
        skipped: result.skipped.map((report) => ({ key: report.key, reason: `${report.reason}: ${report.detail}` })),
        topK,
        tte,
        classNames: [...model.classNames],
        predictedCounts: totals.predictedCounts,
        ...(trainCounts ? { trainCounts } : {}),
        scoreHistogram: totals.scoreHistogram,
        leastConfident: totals.leastConfident,
        backend,
        seconds: result.seconds,
        imagesPerSecond: result.seconds > 0 ? result.images / result.seconds : 0,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
      };
      const files = runChildFiles(spec.resultsUri, spec.sweepIndex);
      const store = await storeFor(files.predictions);
      await store.put(files.predictions, jsonl.length > 0 ? `${jsonl.join('\n')}\n` : '', { contentType: 'application/x-ndjson' });
      await store.put(files.predictionsCsv, `${csv.join('\n')}\n`, { contentType: 'text/csv; charset=utf-8' });
      // The summary last: its presence is what tells the aggregation step the slice is done.
      await store.put(files.predictionSummary, `${JSON.stringify(summary, null, 2)}\n`, { contentType: 'application/json' });
      log(`wrote ${files.predictions} (${result.images} images, ${result.skipped.length} skipped)`);
      return { summary, files: { predictions: files.predictions, csv: files.predictionsCsv, summary: files.predictionSummary } };
    } finally {
      model.dispose();
    }
  } finally {
    clip.dispose();
  }
}
