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

/**
 * The attempt's deadline is near: the trainer checkpointed and stops so that the next attempt
 * (Batch retries exit 75) continues from the checkpoint.
 */
export class TrainerDeadlineError extends TrainerError {
  constructor(
    readonly checkpointUri: string,
    readonly position: { epoch: number; step: number },
    reason: string,
  ) {
    super(`to be continued: ${reason}; checkpointed at epoch ${position.epoch + 1}, step ${position.step} (${checkpointUri}); the next attempt resumes from it`);
    this.name = 'TrainerDeadlineError';
  }
}

/** The backend the job requires (SAGE_REQUIRED_BACKEND) did not load; the message says why. Not retried: the same image fails again. */
export class TrainerBackendError extends TrainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainerBackendError';
  }
}
