/** Errors of the pipeline cores: `<Domain><Problem>Error`, each message naming what was expected and what came. */
import { PipelineError } from '../common/errors';

/** An incoming event does not have the shape the handler expects. */
export class PipelineEventShapeError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineEventShapeError';
  }
}

/** A stored pipeline document (claim, run record, summary) does not parse. */
export class PipelineDocumentError extends PipelineError {
  constructor(
    readonly uri: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${uri}: ${message}`, options);
    this.name = 'PipelineDocumentError';
  }
}

/** A conditional update kept losing races; the caller's retry (Lambda's async retry) will try again. */
export class PipelineContentionError extends PipelineError {
  constructor(
    readonly uri: string,
    readonly attempts: number,
  ) {
    super(`could not update ${uri}: ${attempts} conditional writes in a row found it changed by someone else`);
    this.name = 'PipelineContentionError';
  }
}

/**
 * Another handler holds the upload's claim and its lease outlasts what this delivery may
 * wait. Thrown (not answered as a duplicate) so the event is retried later, as Powertools'
 * IdempotencyAlreadyInProgressError is: the holder may yet die, and then a retry takes over.
 */
export class PipelineClaimInProgressError extends PipelineError {
  constructor(
    readonly claimUri: string,
    readonly owner: string | undefined,
    readonly expiresAt: string,
  ) {
    super(`${claimUri} is held by ${owner ?? 'another handler'} until ${expiresAt}; this delivery fails so that a later retry finishes the upload`);
    this.name = 'PipelineClaimInProgressError';
  }
}
