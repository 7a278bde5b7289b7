/**
 * The pipeline cores log through this small interface so the same code writes structured
 * JSON lines in a Lambda and plain or silent output on a laptop.
 */
export type LogFields = Record<string, unknown>;

export interface PipelineLog {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface StructuredLogOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Keys added to every line (service, function name, request id...). */
  base?: LogFields;
  /** Where a line goes. Default: process.stdout. */
  write?: (line: string) => void;
  /** Time source, for tests. Default: the wall clock. */
  now?: () => Date;
}

/** An error as plain JSON: name, message, cause chain (JSON.stringify drops Error fields). */
export function serializeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { message: String(error) };
  return {
    name: error.name,
    message: error.message,
    ...(error.stack ? { stack: error.stack } : {}),
    ...(error.cause !== undefined ? { cause: serializeError(error.cause) } : {}),
  };
}

/** A structured log for CloudWatch: one JSON object per line on stdout, `{ level, message, timestamp, ...base, ...fields }`. (A run's training log file is src/trainer/progress.ts's TrainingLogFile.) */
export class StructuredLog implements PipelineLog {
  private readonly threshold: number;
  private readonly write: (line: string) => void;
  private readonly now: () => Date;
  private base: LogFields;

  constructor(options: StructuredLogOptions = {}) {
    this.threshold = LEVEL_ORDER[options.level ?? 'info'];
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.now = options.now ?? (() => new Date());
    this.base = { ...options.base };
  }

  /** Adds keys to every later line (for example the Lambda request id). */
  appendKeys(fields: LogFields): void {
    this.base = { ...this.base, ...fields };
  }

  debug(message: string, fields?: LogFields): void {
    this.emit('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.emit('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.emit('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.emit('error', message, fields);
  }

  private emit(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (LEVEL_ORDER[level] < this.threshold) return;
    const normalised = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? serializeError(v) : v]));
    this.write(JSON.stringify({ level, message, timestamp: this.now().toISOString(), ...this.base, ...normalised }));
  }
}

/** Drops everything: for tests and callers that report progress their own way. */
export const silentLog: PipelineLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
