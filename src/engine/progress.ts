/**
 * What training reports, and to whom: a ProgressReporter for a person (the trainer's console
 * bar lives in src/trainer/progress.ts) and a TrainingLog for machines (the trainer's JSONL
 * file). The engine only calls these interfaces; it never opens a file or a terminal.
 */
import type { EpochMetrics } from '../contracts/metrics';

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  learningRate: number;
  imagesPerSecond: number;
  /** Seconds left in the whole run, from the mean step time so far. */
  etaSeconds: number;
}

export interface EpochProgress {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  /** Top-1 of the evaluation after the epoch, on `evaluatedSplit` (default test). */
  testAccuracy?: number;
  evaluatedSplit?: 'test' | 'val';
  /** Top-5 of that evaluation. */
  top5?: number;
  seconds: number;
}

export interface ProgressReporter {
  step(info: StepProgress): void;
  epoch(info: EpochProgress): void;
  /** A note (resuming, stopped). */
  message(text: string): void;
  /** Something a person should look at: a diverging loss, a checkpoint that could not be used. */
  warning(text: string): void;
  close(): void;
}

/** Reports nothing (tests, library use). */
export const silentProgress: ProgressReporter = { step() {}, epoch() {}, message() {}, warning() {}, close() {} };

/** Kinds of warning the engine emits (the log's `kind`). */
export type TrainingWarningKind = 'diverged' | 'checkpoint-unusable' | 'checkpoint-fresh-start' | 'checkpoint-stale-files' | 'out-of-memory';

/** One line of the training log. `time` is an ISO timestamp. */
export type TrainingLogRecord =
  | { type: 'step'; epoch: number; step: number; loss: number; accuracy: number; learningRate: number; imagesPerSecond: number; seconds: number; time: string }
  | ({ type: 'epoch'; time: string } & EpochMetrics)
  /** Training continued from a checkpoint at this 0-based epoch and step; later step records of the same position replace earlier ones. */
  | { type: 'resume'; epoch: number; step: number; generation: 'latest' | 'previous'; time: string }
  | { type: 'warning'; kind: TrainingWarningKind; message: string; time: string; details?: Record<string, unknown> }
  /** The micro-batch an attempt starts with (the trainer's automatic choice, or the setting) and why. */
  | { type: 'micro-batch'; microBatch: number; reason: 'set' | 'memory-model' | 'batch'; detail: string; time: string };

/** A log the engine appends to and flushes at each epoch end and at a stop (the trainer's TrainingLogFile). */
export interface TrainingLog {
  append(record: TrainingLogRecord): void;
  flush(): Promise<void>;
}
