/**
 * How the local pipeline runs one trainer job (one Batch job or array child): in this
 * process (simple, shares the loaded backend) or as a child process (isolated, can run
 * in parallel, and is what the container does: `sage train --from-env`, from the bundle when
 * this code runs from it).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRootOf } from '../common/package-root';
import { jobSpecFromEnv } from '../contracts/job';

export interface JobRunOutcome {
  status: 'SUCCEEDED' | 'FAILED';
  /** Why it failed: the error message or the last lines the process printed. */
  reason?: string;
}

export interface JobRunner {
  /** Runs the job described by `env` (src/contracts/job.ts variables) to its end. Never rejects. */
  run(env: Record<string, string>, label: string): Promise<JobRunOutcome>;
}

/** Runs the trainer in this process. `runJob` is passed in so this module does not load tfjs. */
export function inProcessRunner(runJob: (env: Record<string, string>) => Promise<void>): JobRunner {
  return {
    async run(env) {
      try {
        // Validate the environment exactly as the container does before calling the trainer.
        jobSpecFromEnv(env);
        await runJob(env);
        return { status: 'SUCCEEDED' };
      } catch (error) {
        return { status: 'FAILED', reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

/** The entry file of the built CLI, beside every chunk of the bundle (scripts/build-cli.ts). */
export const CLI_BUNDLE_ENTRY = 'main.mjs';

/**
 * How to start `sage train --from-env` as the code now running: from the bundle, the bundle's
 * own entry (the same build, no loader); from the sources, src/cli/main.ts through tsx's
 * loader, resolved from this package (`--import tsx` alone would resolve from the child's
 * working directory).
 */
export function trainerCommand(moduleUrl: string = import.meta.url): string[] {
  if (!moduleUrl.endsWith('.ts')) return [fileURLToPath(new URL(`./${CLI_BUNDLE_ENTRY}`, moduleUrl)), 'train', '--from-env'];
  const root = packageRootOf(moduleUrl) ?? path.resolve(path.dirname(fileURLToPath(moduleUrl)), '..', '..');
  return ['--import', import.meta.resolve('tsx'), path.join(root, 'src', 'cli', 'main.ts'), 'train', '--from-env'];
}
/** Lines of the child's stderr kept for the failure reason. */
const REASON_LINES = 6;

export interface ChildProcessRunnerOptions {
  /** Where the child's output goes, one prefixed line at a time. Default: our stderr. */
  write?: (line: string) => void;
  /** Extra environment for every child (e.g. SAGE_TFJS_BACKEND). */
  env?: Record<string, string>;
}

/** Runs `sage train --from-env` as a child Node process with the job's environment. */
export function childProcessRunner(options: ChildProcessRunnerOptions = {}): JobRunner {
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  return {
    run(env, label) {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, trainerCommand(), {
          env: { ...process.env, ...options.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const tail: string[] = [];
        const forward = (chunk: Buffer): void => {
          for (const line of chunk.toString('utf8').split(/\r?\n/)) {
            if (line.trim() === '') continue;
            write(`[${label}] ${line}`);
            tail.push(line);
            if (tail.length > REASON_LINES) tail.shift();
          }
        };
        child.stdout.on('data', forward);
        child.stderr.on('data', forward);
        child.on('error', (error) => resolve({ status: 'FAILED', reason: `could not start the trainer: ${error.message}` }));
        child.on('close', (code, signal) => {
          if (code === 0) resolve({ status: 'SUCCEEDED' });
          else resolve({ status: 'FAILED', reason: `${signal ? `killed by ${signal}` : `exit code ${code}`}: ${tail.join(' | ')}` });
        });
      });
    },
  };
}
