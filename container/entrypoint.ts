/**
 * The training container's entrypoint: the trainer the CLI runs (src/trainer runJob) on
 * the job described by the environment (src/contracts/job.ts), wrapped with the CUDA JIT
 * cache (restored before, saved after) and SIGTERM handling: Batch sends SIGTERM when a
 * spot host is reclaimed, the trainer checkpoints and stops, and the retried attempt
 * resumes from that checkpoint.
 */
import { jobSpecFromEnv } from '../src/contracts/job';
import { JsonLog } from '../src/pipeline/log';
import { storeFor } from '../src/storage';
import { abortOnTermination, runAnyJob } from '../src/trainer';
import { restoreCudaCache, saveCudaCache, snapshotCache } from './cuda-cache';

const log = new JsonLog({ base: { service: 'trainer' } });

async function main(): Promise<number> {
  const spec = jobSpecFromEnv();
  log.info('job starting', { runId: spec.runId, sweepIndex: spec.sweepIndex, manifestUri: spec.manifestUri });
  const cacheDir = process.env.CUDA_CACHE_PATH;
  const cacheUri = spec.cudaCacheUri;
  const cacheStore = cacheUri ? await storeFor(cacheUri) : undefined;
  if (cacheStore && cacheUri && cacheDir) {
    await restoreCudaCache(cacheStore, cacheUri, cacheDir, log).catch((error: unknown) => log.warn('could not restore the CUDA JIT cache', { error }));
  }
  const before = cacheDir ? await snapshotCache(cacheDir) : undefined;

  const stop = abortOnTermination(['SIGTERM'], () => log.warn('SIGTERM: checkpointing and stopping; the retry resumes from the checkpoint'));
  let exitCode = 0;
  try {
    // Training or an inference slice: the manifest says which.
    await runAnyJob(spec, { signal: stop.signal });
    log.info('job finished', { runId: spec.runId, sweepIndex: spec.sweepIndex });
  } catch (error) {
    log.error('job failed', { runId: spec.runId, sweepIndex: spec.sweepIndex, error });
    exitCode = 1;
  } finally {
    stop.dispose();
    if (cacheStore && cacheUri && cacheDir && before) {
      await saveCudaCache(cacheStore, cacheUri, cacheDir, before, log).catch((error: unknown) => log.warn('could not save the CUDA JIT cache', { error }));
    }
  }
  // Stopped by SIGTERM: exit non-zero so Batch records the attempt as interrupted, not done.
  return stop.signal.aborted ? 143 : exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.error('the trainer could not start', { error });
    process.exit(1);
  },
);
