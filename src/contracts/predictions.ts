/**
 * What an inference job writes (SPEC section 8) and everything downstream reads: one JSON
 * line per image in `predictions.jsonl`, the same as CSV in `predictions.csv`, and a
 * `prediction-summary.json` per slice that the aggregation step folds into the run's report.
 * `sage predict` writes the same lines, so the pipeline and the CLI agree image for image.
 */
import { z } from 'zod';

export const PREDICTIONS_VERSION = 1 as const;

/** One class of an image's top-k: index in the adapter's classes, name, softmax probability. */
export const PredictedClass = z.object({ index: z.number().int().nonnegative(), name: z.string(), score: z.number().min(0).max(1) });
export type PredictedClass = z.infer<typeof PredictedClass>;

/** One line of predictions.jsonl: the image's key and its top-k classes, best first. */
export const PredictionRecord = z.object({ key: z.string(), top: z.array(PredictedClass).min(1) });
export type PredictionRecord = z.infer<typeof PredictionRecord>;

/** An image the job could not read or decode, left out of the predictions. */
export const SkippedImage = z.object({ key: z.string(), reason: z.string() });

/** Top-1 scores in [0, 1] counted in this many equal bins. */
export const SCORE_BINS = 20;
/** Images kept per slice as the least confident (lowest top-1 score). */
export const LEAST_CONFIDENT = 20;

/** `runs/<runId>/<slice>/prediction-summary.json`: one slice's counts, for the report. */
export const PredictionSummary = z.object({
  version: z.literal(PREDICTIONS_VERSION),
  runId: z.string(),
  slice: z.number().int().nonnegative(),
  /** The slice's range in the manifest's image order, [start, end). */
  range: z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }),
  images: z.number().int().nonnegative(),
  skipped: z.array(SkippedImage),
  topK: z.number().int().positive(),
  tte: z.boolean(),
  classNames: z.array(z.string()),
  /** Images whose top-1 class is each class, in class order. */
  predictedCounts: z.array(z.number().int().nonnegative()),
  /** The adapter's training images per class (from its run's metrics.json), when known. */
  trainCounts: z.array(z.number().int().nonnegative()).optional(),
  /** Top-1 scores in SCORE_BINS equal bins over [0, 1]. */
  scoreHistogram: z.array(z.number().int().nonnegative()).length(SCORE_BINS),
  leastConfident: z.array(z.object({ key: z.string(), name: z.string(), score: z.number() })),
  backend: z.string(),
  seconds: z.number().nonnegative(),
  imagesPerSecond: z.number().nonnegative(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type PredictionSummary = z.infer<typeof PredictionSummary>;

/** The CSV header of predictions.csv: key, then rank-wise class and score columns. */
export function predictionCsvHeader(topK: number): string[] {
  return ['key', ...Array.from({ length: topK }, (_, i) => [`class_${i + 1}`, `score_${i + 1}`]).flat()];
}

/** One RFC 4180 field. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A record as one CSV line (no line break), its top-k padded to `topK` columns. */
export function predictionCsvLine(record: PredictionRecord, topK: number): string {
  const cells: (string | number)[] = [record.key];
  for (let i = 0; i < topK; i++) {
    const entry = record.top[i];
    cells.push(entry ? entry.name : '', entry ? Number(entry.score.toFixed(6)) : '');
  }
  return cells.map(csvField).join(',');
}

/** A record as its JSONL line (no line break); scores rounded to 6 digits so the CLI and the job write the same bytes. */
export function predictionJsonLine(record: PredictionRecord): string {
  return JSON.stringify({ key: record.key, top: record.top.map((entry) => ({ index: entry.index, name: entry.name, score: Number(entry.score.toFixed(6)) })) });
}

/** Folds one image's top-1 into a summary under construction. */
export interface SummaryAccumulator {
  predictedCounts: number[];
  scoreHistogram: number[];
  leastConfident: { key: string; name: string; score: number }[];
  images: number;
}

export function newAccumulator(classes: number): SummaryAccumulator {
  return { predictedCounts: new Array<number>(classes).fill(0), scoreHistogram: new Array<number>(SCORE_BINS).fill(0), leastConfident: [], images: 0 };
}

export function accumulate(summary: SummaryAccumulator, record: PredictionRecord): void {
  const best = record.top[0]!;
  summary.images += 1;
  summary.predictedCounts[best.index] = (summary.predictedCounts[best.index] ?? 0) + 1;
  summary.scoreHistogram[Math.min(SCORE_BINS - 1, Math.floor(best.score * SCORE_BINS))]! += 1;
  summary.leastConfident.push({ key: record.key, name: best.name, score: best.score });
  if (summary.leastConfident.length > LEAST_CONFIDENT * 4) trimLeastConfident(summary);
}

/** Keeps the LEAST_CONFIDENT lowest scores (ties by key, so the result does not depend on order). */
export function trimLeastConfident(summary: Pick<SummaryAccumulator, 'leastConfident'>): void {
  summary.leastConfident.sort((a, b) => a.score - b.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  summary.leastConfident.length = Math.min(summary.leastConfident.length, LEAST_CONFIDENT);
}
