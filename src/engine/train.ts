/**
 * The training loop (SPEC §2 "Training"): SGD with momentum and weight decay, cosine
 * learning rate stepped once per epoch, gradient accumulation to the effective batch,
 * a checkpoint after every epoch and when `signal` aborts (after the current step),
 * resumption from the newest usable checkpoint in the same folder, and a divergence flag.
 *
 * The loop opens no file and looks no store up: the caller passes the checkpoint folder (an
 * ObjectStore and a URI), a TrainingLog and a ProgressReporter (src/trainer has the JSONL file
 * and the console bar).
 */
import * as tf from '@tensorflow/tfjs';
import type { DivergenceState, LoopPosition } from '../contracts/checkpoint';
import type { BatchSource } from '../contracts/batches';
import type { Accuracies, DivergenceFlag, EpochMetrics, EvalSplit, EvaluatedEpoch, KeptWeights, ParameterReport } from '../contracts/metrics';
import type { KeepMetric } from '../contracts/settings';
import { loadAdapterWeights, saveAdapter } from './adapter-file';
import { removeStaleTemporaryFiles, resumeCheckpoint, saveCheckpoint } from './checkpoint';
import { EngineEmptyClassError, EngineInputError, EngineNonFiniteLossError } from './errors';
import { evaluate, type EvaluationResult } from './evaluate';
import type { StoreLocation } from './files';
import { logitAdjustment } from './heads';
import type { LogitSource } from './logit-source';
import type { SageModel } from './model';
import { silentProgress, type ProgressReporter, type TrainingLog, type TrainingWarningKind } from './progress';
import { batchGradients, cosineLearningRate, meanGradients, SgdMomentum, type GradientSource } from './step';

/**
 * When a finite loss counts as diverged. The reference is the mean loss of the run's first step,
 * taken on the untrained model (W_up = 0: zero-shot CLIP), so a blow-up in the first steps is not
 * hidden in it. From then on the step loss is smoothed exponentially,
 * `s ← smoothing·s + (1 − smoothing)·loss` (s starts at the first loss), so one bad batch is not
 * enough, and the run is flagged, once, at the first step where `s > factor · reference`; the
 * reference is the first loss, but at least log C (a chance prediction's loss).
 * Training goes on; the flag is a warning and a field of metrics.json.
 */
export interface DivergenceRule {
  factor: number;
  smoothing: number;
  /**
   * The reference is never below this: log C, the loss of a uniform prediction. A first step
   * that is already nearly right (a loss of 0.01 on an easy split) would otherwise make the
   * ordinary noise of a learning run look like a tenfold rise.
   */
  floor?: number;
}

/**
 * 10×, not 100×: with cosine logits scaled by 25 the LA loss per image cannot exceed about
 * 2·25 + log C + log(n_max/n_min) (≈ 60 for C = 100), so a 100× rise from a typical first loss
 * of 1-3 could never be seen without FIT's learnable scales; 10× the first loss is beyond
 * anything a run that learns shows. 0.9 averages over roughly the last 10 steps.
 */
export const DEFAULT_DIVERGENCE_RULE: DivergenceRule = { factor: 10, smoothing: 0.9 };

export interface TrainSageOptions {
  model: SageModel;
  train: BatchSource;
  /** Training images per class, `[C]`; every class needs at least one. */
  trainCounts: readonly number[];
  /**
   * Evaluated every `settings.evalEvery` epochs and after the last one (every epoch with
   * `evaluateEachEpoch`): the manifest's held-out `val` split when it has one, else `test`.
   */
  test?: BatchSource;
  evaluateEachEpoch?: boolean;
  /** Which split `test` is, for the metrics and the log (`valAccuracy` instead of `testAccuracy`). Default 'test'. */
  evaluationSplit?: EvalSplit;
  /** Counts that group classes into head / medium / tail in those evaluations (default trainCounts). */
  groupCounts?: readonly number[];
  /**
   * Folder where the weights of the best evaluation so far are saved as an adapter
   * (saveAdapter), by `settings.keepMetric`; required for `keep: 'best'`, which ends the run
   * with them. A resumed run keeps the best so far (its checkpoint records it).
   */
  best?: StoreLocation;
  /** The checkpoint folder: an ObjectStore and the folder's URI in it. A run given the same folder resumes. */
  checkpoint?: StoreLocation;
  /** Gets one record per step and epoch, each resume and warning; flushed at each epoch end and at a stop. */
  log?: TrainingLog;
  /** Default: silent. The trainer's consoleProgress() writes to stderr. */
  progress?: ProgressReporter;
  /** Abort to stop after the current step with a checkpoint (the trainer wires it to SIGTERM). */
  signal?: AbortSignal;
  /**
   * Asked before each evaluation during training with the images it would evaluate: false stops
   * the run there instead (checkpoint after the epoch's last step, status 'stopped'), and the run
   * resumed from that checkpoint evaluates first. The trainer answers from the attempt's deadline.
   */
  beforeEvaluation?: (images: number) => boolean;
  /** Overrides parts of DEFAULT_DIVERGENCE_RULE. */
  divergence?: Partial<DivergenceRule>;
  /** How an effective batch's gradients are computed; default batchGradients (micro-batches, in this process). */
  gradients?: GradientSource;
  /**
   * Called after each checkpoint is saved (every epoch end and a stop) with where the run stands:
   * the 0-based epoch in progress and the steps done in it (the trainer writes progress.json).
   */
  onCheckpoint?: (point: CheckpointPoint) => void | Promise<void>;
  /** Images per forward pass of the evaluations during training (evaluate's batchSize; the trainer sizes it by memory). */
  evaluationBatchSize?: number;
  /** Where the evaluations during training get their logits (evaluate's `logits`); default this thread. */
  logits?: LogitSource;
}

/** Where a saved checkpoint stands (TrainSageOptions.onCheckpoint). */
export interface CheckpointPoint {
  /** 0-based epoch in progress (= completed epochs) and steps done within it. */
  epoch: number;
  step: number;
  epochs: number;
  stepsPerEpoch: number;
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
  /** Set when the loss diverged (DivergenceRule); metrics.json carries it as `diverged`. */
  diverged: DivergenceFlag | null;
  /** Whose weights the model holds now: the last epoch's, or with `keep: 'best'` the best evaluated epoch's (restored from `best`). */
  kept?: KeptWeights;
  /** The evaluation of those weights during training, when this call made it: the caller need not repeat it on the same split. */
  keptEvaluation?: EvaluationResult | null;
}

/** The value `keep: best` compares; top-1 over all images when the chosen group has no class with test images. */
export function keepMetricValue(accuracy: Accuracies, metric: KeepMetric): number {
  const value = metric === 'top5' ? accuracy.top5 : accuracy[metric];
  return value ?? accuracy.all;
}

/** Refuses counts that do not fit the model, naming the class with no images. */
export function checkTrainCounts(model: SageModel, counts: readonly number[]): void {
  if (counts.length !== model.numClasses) throw new EngineInputError(`trainCounts has ${counts.length} entries; expected one per class (${model.numClasses})`);
  counts.forEach((n, i) => {
    if (n === 0) throw new EngineEmptyClassError(i, model.classNames[i] ?? `#${i}`);
    if (!(Number.isInteger(n) && n > 0)) throw new EngineInputError(`trainCounts[${i}] (${model.classNames[i]}) is ${n}; expected a positive integer`);
  });
}

function freshDivergence(): DivergenceState {
  return { reference: null, smoothed: null, flag: null };
}

function freshPosition(): LoopPosition {
  return { epoch: 0, step: 0, epochLossSum: 0, epochCorrect: 0, epochSeen: 0, epochSeconds: 0, lastFiniteLoss: null, trainSeconds: 0, imagesSeen: 0, divergence: freshDivergence() };
}

/** The divergence monitor after one more step of mean loss `loss`, at 1-based `epoch` and `step`. */
export function observeStepLoss(state: DivergenceState, loss: number, at: { epoch: number; step: number }, rule: DivergenceRule): DivergenceState {
  if (state.reference === null) return { ...state, reference: Math.max(loss, rule.floor ?? 0), smoothed: loss };
  const smoothed = rule.smoothing * (state.smoothed ?? state.reference) + (1 - rule.smoothing) * loss;
  const crossed = state.flag === null && smoothed > rule.factor * state.reference;
  return { ...state, smoothed, flag: crossed ? { epoch: at.epoch, step: at.step, loss: smoothed, reference: state.reference, factor: rule.factor } : state.flag };
}

export async function trainSage(options: TrainSageOptions): Promise<TrainResult> {
  const { model, train, log } = options;
  const { settings } = model;
  checkTrainCounts(model, options.trainCounts);
  const zeroShotFeatures: ZeroShotFeatureStrategy = settings.components.fit && settings.method !== 'zero-shot' ? 'forward-only' : 'unused';
  const parameters = model.parameterReport();
  if (settings.method === 'zero-shot') {
    return { status: 'completed', epochs: [], parameters, trainSeconds: 0, imagesSeen: 0, trainImagesPerSecond: 0, resumedFrom: null, zeroShotFeatures, diverged: null, kept: { rule: 'last', epoch: 0 }, keptEvaluation: null };
  }
  const evaluateEvery = options.evaluateEachEpoch ? 1 : settings.evalEvery;
  const evaluating = options.test !== undefined && evaluateEvery > 0;
  if (settings.keep === 'best' && !(evaluating && options.best)) {
    throw new EngineInputError(`keep 'best' needs evaluations during training (evalEvery ${settings.evalEvery}, ${options.test ? 'a' : 'no'} split to evaluate) and a folder for the best weights (${options.best ? 'given' : 'none given'})`);
  }
  const progress = options.progress ?? silentProgress;
  const rule: DivergenceRule = { ...DEFAULT_DIVERGENCE_RULE, floor: Math.log(model.numClasses), ...options.divergence };
  const computeGradients = options.gradients ?? batchGradients;
  const optimizer = new SgdMomentum(model.trainableVariables(), settings);
  const adjustment = tf.tensor1d(logitAdjustment(options.trainCounts, settings));
  const warn = (kind: TrainingWarningKind, message: string, details?: Record<string, unknown>) => {
    progress.warning(message);
    log?.append({ type: 'warning', kind, message, time: new Date().toISOString(), ...(details ? { details } : {}) });
  };
  let position = freshPosition();
  let history: EpochMetrics[] = [];
  let resumedFrom: TrainResult['resumedFrom'] = null;
  // This call's newest and best evaluations, so the caller can reuse the one of the weights kept.
  let lastEvaluation: { epoch: number; result: EvaluationResult } | null = null;
  let bestEvaluation: { epoch: number; result: EvaluationResult } | null = null;
  // False while the newest header on disk is one that could not be used: it must not become the previous generation.
  let latestOnDiskUsable = true;
  const result = (status: TrainResult['status'], kept: KeptWeights = { rule: 'last', epoch: position.epoch }): TrainResult => ({
    status,
    epochs: history,
    parameters,
    trainSeconds: position.trainSeconds,
    imagesSeen: position.imagesSeen,
    trainImagesPerSecond: position.trainSeconds > 0 ? position.imagesSeen / position.trainSeconds : 0,
    resumedFrom,
    zeroShotFeatures,
    diverged: position.divergence?.flag ?? null,
    kept,
    keptEvaluation: [lastEvaluation, bestEvaluation].find((e) => e?.epoch === kept.epoch)?.result ?? null,
  });
  const checkpoint = async () => {
    if (options.checkpoint) {
      await saveCheckpoint(options.checkpoint, { model, optimizer, position, history }, { keepLatest: latestOnDiskUsable });
      latestOnDiskUsable = true;
    }
    await log?.flush();
    if (options.checkpoint) await options.onCheckpoint?.({ epoch: position.epoch, step: position.step, epochs: settings.epochs, stepsPerEpoch: Math.ceil(train.count / settings.batchSize) });
  };

  try {
    if (options.checkpoint) {
      const stale = await removeStaleTemporaryFiles(options.checkpoint);
      if (stale.length > 0) warn('checkpoint-stale-files', `removed ${stale.length} half-written file(s) from ${options.checkpoint.uri}: ${stale.join(', ')}`);
      const outcome = await resumeCheckpoint(options.checkpoint, model, optimizer, warn);
      latestOnDiskUsable = !outcome.latestUnusable;
      if (outcome.point) {
        const { header, generation } = outcome.point;
        position = { ...header.position, divergence: header.position.divergence ?? freshDivergence() };
        history = header.history;
        resumedFrom = { epoch: position.epoch, step: position.step };
        log?.append({ type: 'resume', epoch: position.epoch, step: position.step, generation, time: new Date().toISOString() });
        progress.message(`resuming from ${options.checkpoint.uri} (${generation} generation) at epoch ${position.epoch + 1}, step ${position.step}`);
      }
    }
    const stepsPerEpoch = Math.ceil(train.count / settings.batchSize);
    const totalSteps = stepsPerEpoch * settings.epochs;
    const context = { model, adjustment, microBatchSize: settings.microBatchSize ?? settings.batchSize };
    const sessionStart = { time: performance.now(), steps: position.epoch * stepsPerEpoch + position.step };

    for (let epoch = position.epoch; epoch < settings.epochs; epoch++) {
      const learningRate = cosineLearningRate(settings.learningRate, epoch, settings.epochs);
      optimizer.setLearningRate(learningRate);
      const batches = train.batches(epoch, { batchSize: settings.batchSize, shuffle: true, seed: settings.seed, transform: 'train', skip: position.step * settings.batchSize });
      for await (const batch of batches) {
        const started = performance.now();
        const step = await computeGradients(batch, context);
        const meanLoss = step.lossSum / step.count;
        if (!Number.isFinite(meanLoss)) {
          tf.dispose(step.sums);
          throw new EngineNonFiniteLossError(epoch + 1, position.step + 1, meanLoss, position.lastFiniteLoss);
        }
        optimizer.step(meanGradients(step.sums, step.count));
        const seconds = (performance.now() - started) / 1000;
        const wasFlagged = position.divergence?.flag ?? null;
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
          divergence: observeStepLoss(position.divergence ?? freshDivergence(), meanLoss, { epoch: epoch + 1, step: position.step + 1 }, rule),
        };
        const flag = position.divergence?.flag ?? null;
        if (flag && !wasFlagged) {
          warn(
            'diverged',
            `training loss diverged at epoch ${flag.epoch}, step ${flag.step}: the smoothed step loss ${flag.loss.toPrecision(4)} is more than ${flag.factor}× ` +
              `the first step's loss ${flag.reference.toPrecision(4)}; training goes on and the metrics record it as diverged`,
            { ...flag },
          );
        }
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
      const split = options.evaluationSplit ?? 'test';
      if (evaluating && options.test && ((epoch + 1) % evaluateEvery === 0 || epoch + 1 === settings.epochs)) {
        if (options.beforeEvaluation && !options.beforeEvaluation(options.test.count)) {
          // Every step of the epoch is in the checkpoint: the resumed run finds no batch left and evaluates.
          await checkpoint();
          progress.message(`stopped at the end of epoch ${epoch + 1}, before its evaluation; checkpoint saved`);
          return result('stopped');
        }
        const evaluation = await evaluate({
          model,
          test: options.test,
          trainCounts: options.trainCounts,
          groupCounts: options.groupCounts,
          ...(options.logits ? { logits: options.logits } : {}),
          ...(options.evaluationBatchSize ? { batchSize: options.evaluationBatchSize } : {}),
        });
        metrics[split === 'val' ? 'valAccuracy' : 'testAccuracy'] = evaluation.accuracy.all;
        metrics.evaluation = { split, accuracy: evaluation.accuracy, seconds: evaluation.seconds };
        lastEvaluation = { epoch: epoch + 1, result: evaluation };
        const point: EvaluatedEpoch = { epoch: epoch + 1, split, metric: settings.keepMetric, value: keepMetricValue(evaluation.accuracy, settings.keepMetric) };
        // Strictly better only: on a tie the earlier weights stay.
        if (!position.best || point.value > position.best.value) {
          // Saved before the checkpoint that records it, so a recorded best is always on disk.
          if (options.best) await saveAdapter(model, options.best);
          position = { ...position, best: point };
          bestEvaluation = lastEvaluation;
        }
      }
      history = [...history, metrics];
      position = { ...freshPosition(), epoch: epoch + 1, lastFiniteLoss: position.lastFiniteLoss, trainSeconds: position.trainSeconds, imagesSeen: position.imagesSeen, divergence: position.divergence, best: position.best ?? null };
      const evaluated = metrics.testAccuracy ?? metrics.valAccuracy;
      progress.epoch({ epoch: metrics.epoch, loss: metrics.loss, trainAccuracy: metrics.trainAccuracy, testAccuracy: evaluated, ...(evaluated === undefined ? {} : { evaluatedSplit: split, top5: metrics.evaluation?.accuracy.top5 }), seconds: metrics.seconds });
      log?.append({ type: 'epoch', ...metrics, time: new Date().toISOString() });
      await checkpoint();
    }
    const best = position.best ?? null;
    if (settings.keep === 'best' && best && options.best) {
      // The checkpoint keeps the last weights; a run resumed after this point restores the best again.
      if (best.epoch !== settings.epochs) await loadAdapterWeights(model, options.best);
      progress.message(`keeping the weights of epoch ${best.epoch} of ${settings.epochs}: ${best.metric} ${(best.value * 100).toFixed(2)}% on ${best.split}, the best evaluated`);
      return result('completed', { rule: 'best', epoch: best.epoch, best });
    }
    return result('completed', { rule: 'last', epoch: settings.epochs });
  } finally {
    optimizer.dispose();
    adjustment.dispose();
    progress.close();
  }
}
