/**
 * What one attempt of a training job keeps track of around the engine: where training stands
 * (from the log's resume and step records), the deadline's view of each step (through the
 * ProgressReporter the engine calls after every step, before it looks at its signal), and
 * progress.json after each checkpoint, so that the summary shows a run between attempts with its
 * epoch and step.
 */
import type { CheckpointPoint, ProgressReporter, TrainingLog, TrainingLogRecord } from '../engine';
import type { TrainingProgress } from '../contracts/progress';
import type { ObjectStore } from '../storage';
import type { AttemptDeadline } from './deadline';

/** The 1-based epoch and step of the step in progress (the next to finish). */
export interface StepPosition {
  epoch: number;
  step: number;
}

/** A TrainingLog that also follows where training is. */
export class PositionLog implements TrainingLog {
  private last: StepPosition = { epoch: 1, step: 0 };

  constructor(
    private readonly inner: TrainingLog,
    private readonly stepsPerEpoch: number,
  ) {}

  append(record: TrainingLogRecord): void {
    if (record.type === 'resume') this.last = { epoch: record.epoch + 1, step: record.step };
    else if (record.type === 'step') this.last = { epoch: record.epoch, step: record.step };
    this.inner.append(record);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  /** The step being computed now. */
  current(): StepPosition {
    return this.last.step >= this.stepsPerEpoch ? { epoch: this.last.epoch + 1, step: 1 } : { epoch: this.last.epoch, step: this.last.step + 1 };
  }
}

/** Passes everything on, and tells the deadline about each step (`imagesPerStep` images). */
export function withDeadline(inner: ProgressReporter, deadline: AttemptDeadline, imagesPerStep: number): ProgressReporter {
  return {
    step(info) {
      inner.step(info);
      deadline.observeStep(imagesPerStep);
    },
    epoch: (info) => inner.epoch(info),
    message: (text) => inner.message(text),
    warning: (text) => inner.warning(text),
    close: () => inner.close(),
  };
}

/** Writes `progress.json` (src/contracts/progress.ts) for a saved checkpoint. */
export async function writeProgress(
  store: ObjectStore,
  uri: string,
  job: { runId: string; sweepIndex: number; attempt?: number },
  point: CheckpointPoint,
): Promise<TrainingProgress> {
  const progress: TrainingProgress = {
    version: 1,
    runId: job.runId,
    sweepIndex: job.sweepIndex,
    epoch: point.epoch,
    epochs: point.epochs,
    step: point.step,
    stepsPerEpoch: point.stepsPerEpoch,
    ...(job.attempt !== undefined ? { attempt: job.attempt } : {}),
    updatedAt: new Date().toISOString(),
  };
  await store.put(uri, `${JSON.stringify(progress, null, 2)}\n`, { contentType: 'application/json' });
  return progress;
}
