/**
 * The engine's errors. Each says what was expected and what came, naming the class,
 * step, tensor or field at fault, so a failed job's log is enough to act on.
 */
import { EngineError } from '../common/errors';

/** A class has no training images: log n is undefined, so LA, CF and the counts are meaningless. */
export class EngineEmptyClassError extends EngineError {
  constructor(
    readonly classIndex: number,
    readonly className: string,
  ) {
    super(`class ${classIndex} ("${className}") has 0 training images; every class needs at least one (log n_i is undefined for n_i = 0)`, { kind: 'bad-input' });
    this.name = 'EngineEmptyClassError';
  }
}

/** The training loss became NaN or infinite; the last good checkpoint is kept. */
export class EngineNonFiniteLossError extends EngineError {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
    readonly lastFiniteLoss: number | null,
  ) {
    super(
      `training loss became ${loss} at epoch ${epoch}, step ${step}; expected a finite number ` +
        `(last finite loss: ${lastFiniteLoss ?? 'none yet'}); the last good checkpoint is kept`,
    );
    this.name = 'EngineNonFiniteLossError';
  }
}

/** Inputs disagree with the model or the settings (counts, labels, shapes, class names). */
export class EngineInputError extends EngineError {
  constructor(message: string) {
    super(message, { kind: 'bad-input' });
    this.name = 'EngineInputError';
  }
}

/** A checkpoint or saved adapter is unreadable or does not fit the model it is loaded into. */
export class EngineCheckpointError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineCheckpointError';
  }
}
