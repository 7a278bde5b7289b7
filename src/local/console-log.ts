/** The pipeline's log as short readable lines on stderr, for a person at a terminal. */
import type { PipelineLog } from '../pipeline';

type LogFields = Parameters<PipelineLog['info']>[1];

/** Fields worth showing a person; the rest (etags, internal URIs) stay out of the way. */
const SHOWN = ['runId', 'jobId', 'arraySize', 'sweepIndex', 'status', 'problems', 'rejectionUri', 'reason'];

function describe(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts = SHOWN.filter((key) => fields[key] !== undefined && typeof fields[key] !== 'object').map((key) => `${key}=${String(fields[key])}`);
  const error = fields.error as { message?: unknown } | undefined;
  if (error && typeof error === 'object' && typeof error.message === 'string') parts.push(`error=${error.message}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export function consoleLog(write: (line: string) => void = (line) => void process.stderr.write(`${line}\n`), options: { debug?: boolean } = {}): PipelineLog {
  return {
    debug: (message, fields) => {
      if (options.debug) write(`[pipeline] ${message}${describe(fields)}`);
    },
    info: (message, fields) => write(`[pipeline] ${message}${describe(fields)}`),
    warn: (message, fields) => write(`[pipeline] warning: ${message}${describe(fields)}`),
    error: (message, fields) => write(`[pipeline] error: ${message}${describe(fields)}`),
  };
}
