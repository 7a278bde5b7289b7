/**
 * The validation step: one uploaded manifest becomes either one Batch job (an array job for
 * a sweep) recorded under runs/<runId>/, or a rejection report listing every problem. The
 * story, in order:
 *
 *   1. claim the upload (upload-claims.ts): a repeated delivery finds the claim and stops;
 *   2. read the manifest with a size limit and validate it (every reference held to the
 *      pipeline's own roots, so nothing outside the buckets is read or quoted);
 *   3. refused: write the rejection report, complete the claim;
 *   4. accepted: plan the run (run-planner.ts), write its record, find or submit its job
 *      (the job name comes from the run id, which lives in the claim), complete the claim.
 *
 * The uploaded manifest is only ever read. Summary rows are the aggregation step's: it
 * writes them from Batch's own state-change events, SUBMITTED onwards.
 */
import { RejectionReport, type UploadClaim } from '../contracts/documents';
import { ARTIFACTS_PREFIXES, RESULTS_PREFIXES, cleanEtag, isManifestKey, manifestNameFromKey, resultsKeys, summaryFiles } from '../contracts/layout';
import { MAX_MANIFEST_BYTES, validateUpload, type Manifest, type ManifestProblem, type UploadValidation } from '../manifest';
import { ObjectNotFoundError, ObjectTooLargeError, joinUri, type ObjectStore } from '../storage';
import type { IdSource, PipelineContext } from './context';
import { toJson } from './documents';
import { describeSweepEstimate, storedEstimate, type AttemptBudget, type SweepEstimate } from '../estimate';
import type { JobSubmitter } from './job-submitter';
import { estimateManifest, planPredictRun, planRun } from './run-planner';
import { UploadClaims, DEFAULT_LEASE_MS } from './upload-claims';

export interface ManifestUpload {
  /** Key in the data bucket, `manifests/<name>.json`. */
  key: string;
  /** The uploaded object's etag (quoted or not). */
  etag: string;
  /** Object size in bytes, when the event says. */
  size?: number;
}

export interface ProcessManifestUploadDeps extends PipelineContext {
  submitter: JobSubmitter;
  ids: IdSource;
  /** Who handles the upload (a Lambda request id), recorded in the claim. */
  owner?: string;
  /**
   * How long this handler may still run (Lambda's getRemainingTimeInMillis): the claim's
   * lease. Default 15 minutes (the Lambda maximum), for callers without a deadline.
   */
  remainingMs?: number;
  /** Of that time, what the validation and submission need; a wait for another holder may use the rest. Default 30 s. */
  workMs?: number;
  /** Waits between looks at another handler's live claim (tests move their clock here). */
  sleep?: (ms: number) => Promise<void>;
  /** Check that referenced files and images exist (the validator's storage pass). Default true. */
  checkStorage?: boolean;
  /** Store for the files a manifest references (images, lists, weights); default: storeFor(uri) per location. */
  referenceStore?: ObjectStore;
  /**
   * The only `s3://bucket/prefix/` roots a manifest may reference. Default: the data bucket and
   * the artifacts bucket's weights/ when the buckets are in S3; none (anything) for local folders.
   */
  referenceRoots?: readonly string[];
  /**
   * The estimate's budget (instance types, GPU table, attempt timeout and cap): each run is
   * estimated, a run that cannot fit is refused with the figures, and the job gets the
   * attempts it needs. Without it (the local pipeline) no estimate is made.
   */
  budget?: AttemptBudget;
}

export type { RejectionReport };

export type ManifestUploadOutcome =
  | { outcome: 'submitted'; runId: string; jobId: string; arraySize: number; runRecordUri: string; summaryUri: string; tookOver: boolean }
  | { outcome: 'rejected'; rejectionUri: string; problems: ManifestProblem[] }
  | { outcome: 'duplicate'; claimUri: string; claim: UploadClaim }
  | { outcome: 'ignored'; reason: string };

/** The pipeline's own roots: what a manifest read from the data bucket may name. */
export function defaultReferenceRoots(locations: PipelineContext['locations']): string[] | undefined {
  if (!locations.data.startsWith('s3://') || !locations.artifacts.startsWith('s3://')) return undefined;
  return [`${locations.data.replace(/\/+$/, '')}/`, `${joinUri(locations.artifacts, ARTIFACTS_PREFIXES.weights)}/`];
}

/** What validation leaves of the invocation for the image checks and the verdict's writes: a fifth, between 1 and 60 s. */
function verdictMarginMs(remainingMs: number): number {
  return Math.min(60_000, Math.max(1000, remainingMs / 5));
}

/** The manifest's bytes, or the problem that refuses it: the event's size, then a HEAD, then a bounded read. */
async function readUpload(upload: ManifestUpload, manifestUri: string, store: ObjectStore): Promise<{ bytes: Uint8Array } | { problem: ManifestProblem } | { gone: true }> {
  const tooLarge = (size: number | undefined): { problem: ManifestProblem } => ({
    problem: {
      path: '',
      message: `expected a manifest of at most ${MAX_MANIFEST_BYTES.toLocaleString('en-US')} bytes (10 MB), got ${size === undefined ? 'more' : `${size.toLocaleString('en-US')} bytes`}; put large item lists in a referenced JSONL or list file`,
      code: 'too-large',
    },
  });
  if (upload.size !== undefined && upload.size > MAX_MANIFEST_BYTES) return tooLarge(upload.size);
  const info = await store.head(manifestUri);
  if (!info) return { gone: true };
  if (info.size > MAX_MANIFEST_BYTES) return tooLarge(info.size);
  try {
    return { bytes: await store.get(manifestUri, { maxBytes: MAX_MANIFEST_BYTES }) };
  } catch (error) {
    if (error instanceof ObjectTooLargeError) return tooLarge(error.sizeBytes);
    if (error instanceof ObjectNotFoundError) return { gone: true };
    throw error;
  }
}

/** Validates one uploaded manifest and submits its job or writes its rejection report. */
export async function processManifestUpload(upload: ManifestUpload, deps: ProcessManifestUploadDeps): Promise<ManifestUploadOutcome> {
  const { locations, log } = deps;
  // The invocation's end as the handler was given it, before any of its time is spent here.
  const invocationEnd = deps.remainingMs !== undefined ? Date.now() + deps.remainingMs : undefined;
  if (!isManifestKey(upload.key)) {
    log.info('ignored an object outside manifests/*.json', { key: upload.key });
    return { outcome: 'ignored', reason: `key "${upload.key}" is not manifests/<name>.json` };
  }
  const etag = cleanEtag(upload.etag);
  const uploadName = manifestNameFromKey(upload.key);
  const manifestUri = joinUri(locations.data, upload.key);
  const claimUri = joinUri(locations.results, resultsKeys.claim(uploadName, etag));
  const claims = new UploadClaims({ store: deps.resultsStore, claimUri, clock: deps.clock, log, ...(deps.sleep ? { sleep: deps.sleep } : {}) });
  const claimed = await claims.acquire(
    { state: 'claimed', manifestUri, etag, claimedAt: deps.clock.now().toISOString(), runId: deps.ids.runId(), ...(deps.owner ? { owner: deps.owner } : {}) },
    { remainingMs: deps.remainingMs ?? DEFAULT_LEASE_MS, ...(deps.workMs !== undefined ? { workMs: deps.workMs } : {}) },
  );
  if (claimed.kind === 'completed') {
    log.info('duplicate delivery: this upload was handled already', { claimUri, state: claimed.claim.state, runId: claimed.claim.runId });
    return { outcome: 'duplicate', claimUri, claim: claimed.claim };
  }
  const claim = claimed.claim;
  const runId = claim.runId!;

  // Once SubmitJob is sent, Batch may hold the job whatever this process hears back.
  let submitSent = false;
  try {
    const read = await readUpload(upload, manifestUri, deps.dataStore);
    if ('gone' in read) {
      await claims.release();
      log.warn('the manifest was deleted before it could be read', { manifestUri });
      return { outcome: 'ignored', reason: `${manifestUri} no longer exists` };
    }
    const referenceRoots = deps.referenceRoots ?? defaultReferenceRoots(locations);
    const checked: UploadValidation =
      'problem' in read
        ? { kind: 'train', result: { ok: false, problems: [read.problem] } }
        : await validateUpload(read.bytes, {
            manifestUri,
            checkStorage: deps.checkStorage ?? true,
            // Under Lambda, reading stops before the invocation's end with room left for the verdict.
            ...(invocationEnd !== undefined ? { deadline: invocationEnd - verdictMarginMs(deps.remainingMs!) } : {}),
            ...(deps.referenceStore ? { store: deps.referenceStore } : {}),
            ...(referenceRoots ? { referenceRoots, adapterRoots: [`${joinUri(locations.results, RESULTS_PREFIXES.runs)}/`] } : {}),
          });
    // A valid training manifest whose run cannot fit the budget is refused before any GPU starts.
    const validated = checked.result;
    const estimate =
      checked.kind === 'train' && checked.result.ok && deps.budget && checked.result.clip ? estimateManifest(checked.result.manifest, checked.result.clip, checked.result.counts, deps.budget) : undefined;
    const result =
      checked.kind === 'train' && checked.result.ok && estimate && !estimate.fits ? { ok: false as const, problems: estimateProblems(checked.result.manifest.sweep !== undefined, estimate) } : validated;
    if (!result.ok) {
      const rejectionUri = joinUri(locations.results, resultsKeys.rejection(uploadName, etag));
      const report: RejectionReport = {
        version: 1,
        manifestUri,
        manifestName: uploadName,
        etag,
        rejectedAt: claim.claimedAt,
        problemCount: result.problems.length,
        problems: result.problems,
        ...(estimate ? { estimate: storedEstimate(estimate) } : {}),
      };
      await deps.resultsStore.put(rejectionUri, toJson(report), { contentType: 'application/json' });
      await claims.complete({ ...claim, state: 'rejected', rejectionUri });
      log.info('manifest rejected', { manifestUri, rejectionUri, problems: result.problems.length });
      return { outcome: 'rejected', rejectionUri, problems: result.problems };
    }

    const common = { manifestUri, manifestEtag: etag, runId, locations, submittedAt: claim.claimedAt, ...(referenceRoots ? { referenceRoots } : {}) };
    const plan = checked.kind === 'predict' && checked.result.ok ? planPredictRun({ ...common, validated: checked.result }) : planRun({ ...common, manifest: (result as { manifest: Manifest }).manifest });
    if (estimate) {
      plan.record.estimate = storedEstimate(estimate);
      plan.submission.attempts = estimate.attempts;
      log.info('estimate', { runId, lines: describeSweepEstimate(estimate) });
    }
    // The record exists before the job does, so the aggregation step can always find it.
    await deps.resultsStore.put(plan.recordUri, toJson(plan.record), { contentType: 'application/json' });
    // A handler that died after SubmitJob left a job under this very name: use it, never submit twice.
    const existing = claimed.previous ? await deps.submitter.find(plan.submission.name) : undefined;
    submitSent = existing === undefined;
    const { jobId } = existing ?? (await deps.submitter.submit(plan.submission));
    await claims.complete({ ...claim, state: 'submitted', jobName: plan.submission.name, jobId });
    await deps.resultsStore.put(plan.recordUri, toJson({ ...plan.record, jobId }), { contentType: 'application/json' });
    const summaryUri = summaryFiles(locations.results, plan.record.manifestName).summaryUri;
    log.info(existing ? 'found the job a previous handler submitted' : 'job submitted', { manifestUri, runId, jobId, jobName: plan.submission.name, arraySize: plan.submission.arraySize });
    return { outcome: 'submitted', runId, jobId, arraySize: plan.submission.arraySize, runRecordUri: plan.recordUri, summaryUri, tookOver: claimed.previous !== undefined };
  } catch (error) {
    // Before SubmitJob, give the claim back so the event's retry does the work afresh. From
    // SubmitJob on (its answer lost, or a later write failing), keep the claim and its run id
    // but end the lease: the retry takes it over at once and finds the job by name, if any.
    if (!submitSent && !claimed.previous) await claims.release().catch(() => undefined);
    else await claims.expire(claim).catch(() => undefined);
    throw error;
  }
}

/**
 * The refusal of a run that cannot fit its attempts, at the sweep entry (or `training`) it concerns.
 * Exported so `sage validate` and `sage submit --dry-run` refuse with the Lambda's own problems.
 */
export function estimateProblems(hasSweep: boolean, estimate: SweepEstimate): ManifestProblem[] {
  return estimate.problems.map((problem) => ({ path: hasSweep ? `sweep[${problem.sweepIndex}]` : 'training', message: problem.message, code: 'estimate' as const }));
}
