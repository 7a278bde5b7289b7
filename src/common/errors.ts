/**
 * One base error per domain, so a caller decides by family instead of by a list of classes:
 * the CLI and the trainer map `kind` to their exit codes (bad input 2, a failed run 1), logs
 * name the domain. Each family has a default kind; an error that means the other one says so
 * (EngineInputError is bad input, EngineNonFiniteLossError a failure).
 *
 * Errors are named `<Domain><Problem>Error` and set `name` themselves: bundles are minified,
 * so a class's own name cannot be trusted at run time.
 */

export type ErrorDomain = 'manifest' | 'data' | 'clip' | 'engine' | 'trainer' | 'pipeline' | 'storage' | 'estimate' | 'repro' | 'cli';

/** `bad-input`: the input was refused, with what to fix (exit 2). `failure`: the run failed (exit 1). */
export type ErrorKind = 'bad-input' | 'failure';

export interface SageErrorOptions {
  cause?: unknown;
  /** Overrides the family's default kind. */
  kind?: ErrorKind;
}

export abstract class SageError extends Error {
  abstract readonly domain: ErrorDomain;
  readonly kind: ErrorKind;

  constructor(message: string, defaultKind: ErrorKind, options: SageErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = options.kind ?? defaultKind;
    this.name = 'SageError';
  }
}

/** A manifest, a list file or a reference it names is refused. Default: bad input. */
export class ManifestError extends SageError {
  readonly domain = 'manifest' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'ManifestError';
  }
}

/** Datasets, shards, images and the loader. Default: bad input (a broken archive, image or option). */
export class DataError extends SageError {
  readonly domain = 'data' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'DataError';
  }
}

/** CLIP weights, config, tokenizer and backend. Default: bad input (a broken weights folder). */
export class ClipError extends SageError {
  readonly domain = 'clip' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'ClipError';
  }
}

/** Training, evaluation and the files of the engine. Default: a failure. */
export class EngineError extends SageError {
  readonly domain = 'engine' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'failure', options);
    this.name = 'EngineError';
  }
}

/** One training job end to end. Default: a failure. */
export class TrainerError extends SageError {
  readonly domain = 'trainer' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'failure', options);
    this.name = 'TrainerError';
  }
}

/** The handler cores, their documents and AWS. Default: a failure. */
export class PipelineError extends SageError {
  readonly domain = 'pipeline' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'failure', options);
    this.name = 'PipelineError';
  }
}

/** Objects in a bucket or on disk. Default: a failure (a missing or oversized input says bad input). */
export class StorageError extends SageError {
  readonly domain = 'storage' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'failure', options);
    this.name = 'StorageError';
  }
}

/** The estimate and its GPU table. Default: bad input (a setting to fix). */
export class EstimateError extends SageError {
  readonly domain = 'estimate' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'EstimateError';
  }
}

/** Reproduction sweeps of the paper's tables. Default: bad input. */
export class ReproError extends SageError {
  readonly domain = 'repro' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'ReproError';
  }
}

/** The command line's own checks. Default: bad input. */
export class CliError extends SageError {
  readonly domain = 'cli' as const;
  constructor(message: string, options?: SageErrorOptions) {
    super(message, 'bad-input', options);
    this.name = 'CliError';
  }
}
