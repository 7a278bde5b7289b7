/** Assembles the run's MetricsDocument (src/contracts/metrics.ts) from training and evaluation. */
import { METRICS_VERSION, MetricsDocument } from '../contracts/metrics';
import { methodLabel, type Settings } from '../contracts/settings';
import type { EvaluationResult } from './evaluate';
import type { TrainResult } from './train';

export interface MetricsInputs {
  runId: string;
  sweepIndex?: number;
  datasetName: string;
  settings: Settings;
  train: TrainResult;
  evaluation: EvaluationResult;
  backend: string;
  startedAt: Date;
  finishedAt: Date;
}

/** The document, validated against the schema (throws a ZodError naming the field when it does not fit). */
export function buildMetricsDocument(inputs: MetricsInputs): MetricsDocument {
  const { train, evaluation, settings } = inputs;
  const trainCount = evaluation.perClass.reduce((a, c) => a + c.trainCount, 0);
  return MetricsDocument.parse({
    version: METRICS_VERSION,
    runId: inputs.runId,
    sweepIndex: inputs.sweepIndex ?? 0,
    method: methodLabel(settings),
    // The engine's own choices travel with the settings, so a reader knows how f^zs was obtained.
    config: { ...settings, engine: { fitZeroShotFeatures: train.zeroShotFeatures, resumedFrom: train.resumedFrom } },
    dataset: { name: inputs.datasetName, numClasses: evaluation.perClass.length, trainCount, testCount: evaluation.testCount },
    parameters: train.parameters,
    accuracy: evaluation.accuracy,
    perClass: evaluation.perClass,
    epochs: train.epochs,
    timings: {
      totalSeconds: Math.max(0, (inputs.finishedAt.getTime() - inputs.startedAt.getTime()) / 1000),
      trainSeconds: train.trainSeconds,
      evalSeconds: evaluation.seconds,
      trainImagesPerSecond: train.trainImagesPerSecond,
    },
    backend: inputs.backend,
    startedAt: inputs.startedAt.toISOString(),
    finishedAt: inputs.finishedAt.toISOString(),
  });
}
