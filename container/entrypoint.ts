/**
 * The training container's entrypoint: the trainer the CLI runs (src/trainer runJob) on
 * the job described by the environment (src/contracts/job.ts), wrapped with the CUDA JIT
 * cache (restored before, saved after) and SIGTERM handling: Batch sends SIGTERM when a
 * spot host is reclaimed, the trainer checkpoints and stops, and the retried attempt
 * resumes from that checkpoint.
 *
 * It exits with the trainer's codes (src/contracts/job.ts TRAINER_EXIT): 0 done, 1 failed,
 * 2 bad input, 3 the required backend did not load, 75 checkpointed before the attempt's
 * deadline (retried), 143 stopped by SIGTERM. Its S3 calls go through the run's scoped session
 * (run-credentials.ts) when the job definition names the run role.
 *
 * `docker run --gpus all <image> doctor [--json <file>] [...]` runs `sage doctor` instead: the
 * backend, the GPU, a matmul rate and training throughput (src/trainer/doctor.ts).
 *
 * The image runs Node 20: the AWS SDK's Node-version banner is switched off here as the CLI
 * switches it off (src/cli/node-warnings.ts), or every job's log would open with it.
 */
import { silenceAwsSdkNodeVersionWarning } from '../src/cli/node-warnings';
import { jobSpecFromEnv, TRAINER_EXIT } from '../src/contracts/job';
import { RUN_ROLE_ENV } from '../src/contracts/run-access';
import { StructuredLog } from '../src/pipeline/log';
import { storeFor } from '../src/storage';
import { abortOnTermination, runAnyJob, trainerExitCode } from '../src/trainer';
import { restoreCudaCache, saveCudaCache, snapshotCache } from './cuda-cache';
import { installRunStore } from './run-credentials';

const log = new StructuredLog({ base: { service: 'trainer' } });

async function main(): Promise<number> {
  // Before any AWS client is made: the SDK reads the switch when a client is configured.
  silenceAwsSdkNodeVersionWarning();
  if (process.argv[2] === 'doctor') {
    const { runDoctorCommand } = await import('../src/trainer');
    return runDoctorCommand(process.argv.slice(3));
  }
  const spec = jobSpecFromEnv();
  log.info('job starting', { runId: spec.runId, sweepIndex: spec.sweepIndex, manifestUri: spec.manifestUri });
  // Before any S3 call: every s3:// URI then resolves to the run's scoped session.
  const session = installRunStore(spec);
  if (session) log.info('S3 through the run session', { role: process.env[RUN_ROLE_ENV], session: session.request.sessionName });
  const cacheDir = process.env.CUDA_CACHE_PATH;
  const cacheUri = spec.cudaCacheUri;
  const cacheStore = cacheUri ? await storeFor(cacheUri) : undefined;
  if (cacheStore && cacheUri && cacheDir) {
    await restoreCudaCache(cacheStore, cacheUri, cacheDir, log).catch((error: unknown) => log.warn('could not restore the CUDA JIT cache', { error }));
  }
  const before = cacheDir ? await snapshotCache(cacheDir) : undefined;

  const stop = abortOnTermination(['SIGTERM'], () => log.warn('SIGTERM: checkpointing and stopping; the retry resumes from the checkpoint'));
  let exitCode: number = TRAINER_EXIT.done;
  try {
    // Training or an inference slice: the manifest says which.
    await runAnyJob(spec, { signal: stop.signal });
    log.info('job finished', { runId: spec.runId, sweepIndex: spec.sweepIndex });
  } catch (error) {
    exitCode = trainerExitCode(error);
    if (exitCode === TRAINER_EXIT.toBeContinued) log.info('to be continued', { runId: spec.runId, sweepIndex: spec.sweepIndex, reason: (error as Error).message, exitCode });
    else log.error('job failed', { runId: spec.runId, sweepIndex: spec.sweepIndex, error, exitCode });
  } finally {
    stop.dispose();
    if (cacheStore && cacheUri && cacheDir && before) {
      await saveCudaCache(cacheStore, cacheUri, cacheDir, before, log).catch((error: unknown) => log.warn('could not save the CUDA JIT cache', { error }));
    }
  }
  // Stopped by SIGTERM: exit non-zero so Batch records the attempt as interrupted, not done.
  return stop.signal.aborted ? TRAINER_EXIT.stopped : exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.error('the trainer could not start', { error });
    process.exit(trainerExitCode(error));
  },
);
