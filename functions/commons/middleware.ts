/** Middy middleware shared by the handlers. */
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { StructuredLog, type LogLevel } from '../../src/pipeline/log';

let coldStart = true;

/** A JSON log for one function; LOG_LEVEL picks the threshold (default info). */
export function createFunctionLog(service: string, env: NodeJS.ProcessEnv = process.env): StructuredLog {
  const level = env.LOG_LEVEL?.toLowerCase();
  const valid: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  return new StructuredLog({ level: valid.includes(level as LogLevel) ? (level as LogLevel) : 'info', base: { service } });
}

/**
 * Adds the request id, function name and cold-start flag to every log line of the
 * invocation, and logs an error once with its cause chain before Lambda sees it.
 */
export function logInvocation<TEvent, TResult>(log: StructuredLog): MiddlewareObj<TEvent, TResult, Error, Context> {
  return {
    name: 'logInvocation',
    before: (request) => {
      log.appendKeys({
        requestId: request.context.awsRequestId,
        functionName: request.context.functionName,
        coldStart,
      });
      coldStart = false;
    },
    onError: (request) => {
      log.error('invocation failed', { error: request.error });
    },
  };
}
