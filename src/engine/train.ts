/**
 * The training loop (SPEC §2 "Training"): SGD with momentum and weight decay, cosine
 * learning rate stepped once per epoch, gradient accumulation to the effective batch,
 * a checkpoint after every epoch and when `signal` aborts (after the current step), and
 * resumption from the last checkpoint at the same URI.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchSource } from '../contracts/batches';
import type { EpochMetrics, ParameterReport } from '../contracts/metrics';
import { readHeader, restoreCheckpoint, saveCheckpoint, type LoopPosition } from './checkpoint';
import { logitAdjustment } from './compensation';
import { EngineEmptyClassError, EngineInputError, EngineNonFiniteLossError } from './errors';
import { evaluate } from './evaluate';
import type { SageModel } from './model';
import { SgdMomentum } from './optimizer';
import { JsonlLog, silentProgress, type ProgressReporter } from './progress';
import { cosineLearningRate } from './schedule';
import { computeStep } from './step';

export interface TrainSageOptions {
  model: SageModel;
  train: BatchSource;
  /** Training images per class, `[C]`; every class needs at least one. */
  trainCounts: readonly number[];
  /** Evaluated after every epoch when `evaluateEachEpoch` is set. */
  test?: BatchSource;
  evaluateEachEpoch?: boolean;
  /** Folder URI (local or s3://) for checkpoints; a run with the same URI resumes. */
  checkpointUri?: string;
  /** JSONL log URI: one object per step and per epoch. */
  logUri?: string;
  /** Default: silent. Use consoleProgress() for stderr. */
  progress?: ProgressReporter;
  /** Abort to stop after the current step with a checkpoint (wire it to SIGTERM). */
  signal?: AbortSignal;
}

/** How FIT's f^zs is obtained; recorded in the metrics' config. */
export type ZeroShotFeatureStrategy = 'forward-only' | 'unused';

export interface TrainResult {
  status: 'completed' | 'stopped';
  epochs: EpochMetrics[];
  parameters: ParameterReport;
  trainSeconds: number;
  imagesSeen: number;
  trainImagesPerSecond: number;
  resumedFrom: { epoch: number; step: number } | null;
  zeroShotFeatures: ZeroShotFeatureStrategy;
}

/** Refuses counts that do not fit the model, naming the class with no images. */
export function checkTrainCounts(model: SageModel, counts: readonly number[]): void {
  if (counts.length !== model.numClasses) throw new EngineInputError(`trainCounts has ${counts.length} entries; expected one per class (${model.numClasses})`);
  counts.forEach((n, i) => {
    if (n === 0) throw new EngineEmptyClassError(i, model.classNames[i] ?? `#${i}`);
    if (!(Number.isInteger(n) && n > 0)) throw new EngineInputError(`trainCounts[${i}] (${model.classNames[i]}) is ${n}; expected a positive integer`);
  });
}

function freshPosition(): LoopPosition {
  return { epoch: 0, step: 0, epochLossSum: 0, epochCorrect: 0, epochSeen: 0, epochSeconds: 0, lastFiniteLoss: null, trainSeconds: 0, imagesSeen: 0 };
}

export async function trainSage(options: TrainSageOptions): Promise<TrainResult> {
  const { model, train } = options;
  const { settings } = model;
  checkTrainCounts(model, options.trainCounts);
  const zeroShotFeatures: ZeroShotFeatureStrategy = settings.components.fit && settings.method !== 'zero-shot' ? 'forward-only' : 'unused';
  const parameters = model.parameterReport();
  if (settings.method === 'zero-shot') {
    return { status: 'completed', epochs: [], parameters, trainSeconds: 0, imagesSeen: 0, trainImagesPerSecond: 0, resumedFrom: null, zeroShotFeatures };
  }
  const progress = options.progress ?? silentProgress;
  const variables = model.trainableVariables();
  const optimizer = new SgdMomentum(variables, settings);
  const adjustment = tf.tensor1d(logitAdjustment(options.trainCounts, settings));
  const log = options.logUri ? await JsonlLog.open(options.logUri) : null;
  let position = freshPosition();
  let history: EpochMetrics[] = [];
  let resumedFrom: TrainResult['resumedFrom'] = null;
  const result = (status: TrainResult['status']): TrainResult => ({
    status,
    epochs: history,
    parameters,
    trainSeconds: position.trainSeconds,
    imagesSeen: position.imagesSeen,
    trainImagesPerSecond: position.trainSeconds > 0 ? position.imagesSeen / position.trainSeconds : 0,
    resumedFrom,
    zeroShotFeatures,
  });
  const checkpoint = async () => {
    if (options.checkpointUri) await saveCheckpoint(options.checkpointUri, { model, optimizer, position, history });
    await log?.flush();
  };

  try {
    const header = options.checkpointUri ? await readHeader(options.checkpointUri) : null;
    if (header && options.checkpointUri) {
      await restoreCheckpoint(options.checkpointUri, header, model, optimizer);
      position = header.position;
      history = header.history;
      resumedFrom = { epoch: position.epoch, step: position.step };
      progress.message(`resuming from ${options.checkpointUri} at epoch ${position.epoch + 1}, step ${position.step}`);
    }
    const stepsPerEpoch = Math.ceil(train.count / settings.batchSize);
    const totalSteps = stepsPerEpoch * settings.epochs;
    const microBatchSize = settings.microBatchSize ?? settings.batchSize;
    const sessionStart = { time: performance.now(), steps: position.epoch * stepsPerEpoch + position.step };

    for (let epoch = position.epoch; epoch < settings.epochs; epoch++) {
      const learningRate = cosineLearningRate(settings.learningRate, epoch, settings.epochs);
      optimizer.setLearningRate(learningRate);
      const batches = train.batches(epoch, { batchSize: settings.batchSize, shuffle: true, seed: settings.seed, transform: 'train', skip: position.step * settings.batchSize });
      for await (const batch of batches) {
        const started = performance.now();
        const step = computeStep({ model, variables, optimizer, adjustment, microBatchSize }, batch);
        const meanLoss = step.lossSum / step.count;
        if (!Number.isFinite(meanLoss)) {
          step.discard();
          throw new EngineNonFiniteLossError(epoch + 1, position.step + 1, meanLoss, position.lastFiniteLoss);
        }
        step.apply();
        const seconds = (performance.now() - started) / 1000;
        position = {
          ...position,
          step: position.step + 1,
          epochLossSum: position.epochLossSum + step.lossSum,
          epochCorrect: position.epochCorrect + step.correct,
          epochSeen: position.epochSeen + step.count,
          epochSeconds: position.epochSeconds + seconds,
          lastFiniteLoss: meanLoss,
          trainSeconds: position.trainSeconds + seconds,
          imagesSeen: position.imagesSeen + step.count,
        };
        const doneSteps = epoch * stepsPerEpoch + position.step;
        const secondsPerStep = (performance.now() - sessionStart.time) / 1000 / Math.max(1, doneSteps - sessionStart.steps);
        const imagesPerSecond = step.count / seconds;
        progress.step({ epoch: epoch + 1, epochs: settings.epochs, step: position.step, stepsPerEpoch, loss: meanLoss, learningRate, imagesPerSecond, etaSeconds: secondsPerStep * (totalSteps - doneSteps) });
        log?.append({ type: 'step', epoch: epoch + 1, step: position.step, loss: meanLoss, accuracy: step.correct / step.count, learningRate, imagesPerSecond, seconds, time: new Date().toISOString() });
        if (options.signal?.aborted) {
          await checkpoint();
          progress.message(`stopped at epoch ${epoch + 1}, step ${position.step}; checkpoint saved`);
          return result('stopped');
        }
      }
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        loss: position.epochSeen > 0 ? position.epochLossSum / position.epochSeen : 0,
        trainAccuracy: position.epochSeen > 0 ? position.epochCorrect / position.epochSeen : 0,
        learningRate,
        seconds: position.epochSeconds,
      };
      if (options.evaluateEachEpoch && options.test) {
        metrics.testAccuracy = (await evaluate({ model, test: options.test, trainCounts: options.trainCounts })).accuracy.all;
      }
      history = [...history, metrics];
      position = { ...freshPosition(), epoch: epoch + 1, lastFiniteLoss: position.lastFiniteLoss, trainSeconds: position.trainSeconds, imagesSeen: position.imagesSeen };
      progress.epoch({ epoch: metrics.epoch, loss: metrics.loss, trainAccuracy: metrics.trainAccuracy, testAccuracy: metrics.testAccuracy, seconds: metrics.seconds });
      log?.append({ type: 'epoch', ...metrics, time: new Date().toISOString() });
      await checkpoint();
    }
    return result('completed');
  } finally {
    optimizer.dispose();
    adjustment.dispose();
    progress.close();
  }
}

/**
 * An AbortSignal that fires on SIGTERM (and SIGINT): training finishes its step,
 * checkpoints and returns `status: 'stopped'`. Call `dispose` to remove the handlers.
 */
export function abortOnTermination(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): { signal: AbortSignal; requestStop(): void; dispose(): void } {
  const controller = new AbortController();
  const requestStop = () => controller.abort();
  for (const name of signals) process.on(name, requestStop);
  return {
    signal: controller.signal,
    requestStop,
    dispose: () => {
      for (const name of signals) process.off(name, requestStop);
    },
  };
}
