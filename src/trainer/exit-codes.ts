/**
 * The trainer's exit code for how a job ended (SPEC section 6, src/contracts/job.ts
 * TRAINER_EXIT): the container's entrypoint exits with it and Batch retries on 75 (and on spot
 * reclaims), nothing else.
 */
import { SageError } from '../common/errors';
import { TRAINER_EXIT } from '../contracts/job';
import { TrainerBackendError, TrainerDeadlineError, TrainerStoppedError } from './errors';

export type TrainerExitCode = (typeof TRAINER_EXIT)[keyof typeof TRAINER_EXIT];

/** null: the job succeeded. A SageError of kind bad-input (a refused manifest, an empty class, a bad weights folder) is 2. */
export function trainerExitCode(error: unknown): TrainerExitCode {
  if (error === null || error === undefined) return TRAINER_EXIT.done;
  if (error instanceof TrainerDeadlineError) return TRAINER_EXIT.toBeContinued;
  if (error instanceof TrainerStoppedError) return TRAINER_EXIT.stopped;
  if (error instanceof TrainerBackendError) return TRAINER_EXIT.backendUnavailable;
  if (error instanceof SageError && error.kind === 'bad-input') return TRAINER_EXIT.badInput;
  return TRAINER_EXIT.failed;
}
