/** The trainer stopped on request (SIGTERM) after checkpointing; the job should be retried and will resume. */
import { TrainerError } from '../common/errors';
export class TrainerStoppedError extends TrainerError {
  constructor(
    readonly checkpointUri: string,
    readonly completedEpochs: number,
  ) {
    super(`training stopped on request after ${completedEpochs} completed epoch(s); the checkpoint at ${checkpointUri} resumes it`);
    this.name = 'TrainerStoppedError';
  }
}

/** The job's settings cannot be resolved: a sweep index outside the sweep, or layers that combine into an invalid value. */
export class TrainerSettingsError extends TrainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, kind: 'bad-input' });
    this.name = 'TrainerSettingsError';
  }
}
