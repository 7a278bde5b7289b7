/**
 * What training reports, and to whom: a ProgressReporter for a person (the trainer's console
 * bar lives in src/trainer/progress.ts) and a TrainingLog for machines (the trainer's JSONL
 * file). The engine only calls these interfaces; it never opens a file or a terminal.
 */
import type { TrainingLogRecord } from '../contracts/training-log';

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

/** One line of the training log (schema in src/contracts/training-log.ts). `time` is an ISO timestamp. */
export type { TrainingLogRecord, TrainingWarningKind } from '../contracts/training-log';

/** A log the engine appends to and flushes at each epoch end and at a stop (the trainer's TrainingLogFile). */
export interface TrainingLog {
  append(record: TrainingLogRecord): void;
  flush(): Promise<void>;
}
