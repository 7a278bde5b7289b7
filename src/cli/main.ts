/**
 * Entry point of the `sage` command (bin/sage.mjs runs its build from dist/cli/, or this file through tsx). Maps every
 * outcome to one exit code: 0 success, 1 a failed run, 2 bad input with its problems (any
 * SageError of kind bad-input, src/common/errors.ts).
 */
import { CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';
import { SageError } from '../common/errors';
import { ManifestValidationError } from '../manifest/problems';
import { CliInputError, CliRunFailedError, EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED } from './exit-codes';
import { silenceAwsSdkNodeVersionWarning } from './node-warnings';
import { processOutput, type CliOutput } from './output';
import { createProgram } from './program';

/** The exit code for an error a command threw, after printing what the person needs to know. */
export function exitCodeFor(error: unknown, output: CliOutput): number {
  if (error instanceof CommanderError) {
    // Commander printed the message or the help already.
    return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
  }
  if (error instanceof ManifestValidationError) {
    output.err(error.message);
    return EXIT_BAD_INPUT;
  }
  if (error instanceof CliInputError) {
    output.err(`error: ${error.message}`);
    return EXIT_BAD_INPUT;
  }
  if (error instanceof CliRunFailedError) {
    output.err(`failed: ${error.message}`);
    return EXIT_RUN_FAILED;
  }
  // Whole families decide: bad input (a broken weights folder, an empty class, a missing file) is 2.
  if (error instanceof SageError && error.kind === 'bad-input') {
    output.err(`error: ${error.message}`);
    return EXIT_BAD_INPUT;
  }
  const message = error instanceof Error ? (process.env.SAGE_DEBUG ? (error.stack ?? error.message) : `${error.name}: ${error.message}`) : String(error);
  output.err(`failed: ${message}`);
  return EXIT_RUN_FAILED;
}

/** Runs the CLI on `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], output: CliOutput = processOutput): Promise<number> {
  silenceAwsSdkNodeVersionWarning();
  const program = createProgram(output);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return exitCodeFor(error, output);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const code = await runCli(process.argv.slice(2));
  // Worker threads or open handles of a finished command must not keep the process alive.
  process.exit(code);
}
