/**
 * The `sage` command line: one commander program, one module per command. Commands load
 * their heavy dependencies (tfjs, the AWS SDK) inside their actions, so `--help` is instant.
 */
import { Command } from 'commander';
import { registerDemo } from './commands/demo';
import { registerDoctor } from './commands/doctor';
import { registerEvaluate } from './commands/evaluate';
import { registerPredict } from './commands/predict';
import { registerPrepare } from './commands/prepare';
import { registerRepro } from './commands/repro';
import { registerReport } from './commands/report';
import { registerRun } from './commands/run';
import { registerSubmit } from './commands/submit';
import { registerTrain } from './commands/train';
import { registerValidate } from './commands/validate';
import type { CliOutput } from './output';

export const PROGRAM_VERSION = '0.1.0';

export function createProgram(output: CliOutput): Command {
  const program = new Command('sage');
  program
    .description('Fine-tune CLIP for long-tailed image classification with Sage: prepare data, train, evaluate, report, locally or on AWS.')
    .version(PROGRAM_VERSION)
    // Inherited by every sub-command created below: usage errors come back to main as exceptions.
    .exitOverride()
    .configureOutput({ writeOut: (text) => output.out(text.replace(/\n$/, '')), writeErr: (text) => output.err(text.replace(/\n$/, '')) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 success, 1 a run failed, 2 bad input (the problems are printed).
Locations: every path may also be an s3:// URI.

Examples:
  sage demo                                   the whole pipeline on the built-in procedural data
  sage prepare cifar100-lt --archive cifar-100-python.tar.gz --out data/cifar100-lt
  sage validate data/cifar100-lt/manifest.json
  sage run data/cifar100-lt/manifest.json     validate, train, aggregate and report locally
  sage submit data/cifar100-lt/manifest.json --stack SagePipeline`,
    );
  registerPrepare(program, output);
  registerValidate(program, output);
  registerTrain(program, output);
  registerEvaluate(program, output);
  registerPredict(program, output);
  registerRun(program, output);
  registerReport(program, output);
  registerSubmit(program, output);
  registerDemo(program, output);
  registerRepro(program, output);
  registerDoctor(program, output);
  return program;
}
