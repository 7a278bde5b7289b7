/**
 * The CLI's exit codes, one meaning each, so scripts and CI can branch on them:
 * 0 the command did what was asked; 1 a run failed (training crashed, a job ended FAILED);
 * 2 the input was refused (a bad manifest, an unknown flag, a missing file) with the reasons printed.
 */
import { CliError } from '../common/errors';
export const EXIT_OK = 0;
export const EXIT_RUN_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad input found by the CLI itself (a flag value, a path); exits 2 with the message. */
export class CliInputError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliInputError';
  }
}

/** A run that ended badly, with its message already printed or in `message`; exits 1. */
export class CliRunFailedError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, kind: 'failure' });
    this.name = 'CliRunFailedError';
  }
}
