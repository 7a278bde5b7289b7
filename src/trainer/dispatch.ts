/**
 * The container's one command runs either kind of job: the manifest says which (`"kind":
 * "predict"` is an inference slice, anything else a training run), so the job definition,
 * the queue and the image are the same for both (SPEC section 8).
 */
import type { JobSpec } from '../contracts/job';
import { decodeManifestBytes, manifestKind, readManifestBytes } from '../manifest';
import { storeFor } from '../storage';
import type { PredictJobResult } from './predict-job';
import type { RunJobOptions, RunJobResult } from './run-job';

export type AnyJobResult = { kind: 'train'; result: RunJobResult } | { kind: 'predict'; result: PredictJobResult };

/** The kind of the job's manifest, read the way its validator reads it (bounded, strict UTF-8). */
export async function jobKind(manifestUri: string): Promise<'train' | 'predict'> {
  const decoded = decodeManifestBytes(await readManifestBytes(await storeFor(manifestUri), manifestUri));
  if (!decoded.ok) return 'train'; // the training path reports the problem with the manifest
  try {
    return manifestKind(JSON.parse(decoded.text.replace(/^\uFEFF/, '')));
  } catch {
    return 'train';
  }
}

export async function runAnyJob(spec: JobSpec, options: RunJobOptions = {}): Promise<AnyJobResult> {
  if ((await jobKind(spec.manifestUri)) === 'predict') {
    const { runPredictJob } = await import('./predict-job');
    return { kind: 'predict', result: await runPredictJob(spec, { ...(options.workers !== undefined ? { workers: options.workers } : {}), ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}), ...(options.log ? { log: options.log } : {}) }) };
  }
  const { runJob } = await import('./run-job');
  return { kind: 'train', result: await runJob(spec, options) };
}
