/**
 * The validation step: one uploaded manifest becomes either one Batch job (an array job
 * for a sweep) recorded under runs/<runId>/, or a rejection report listing every problem.
 * S3 delivers events at least once, so the upload (name + etag) is claimed with a
 * conditional write first; a repeated delivery finds the claim and does nothing.
 * The uploaded manifest is only ever read.
 */
import { resultsKeys, artifactsKeys, cleanEtag, manifestNameFromKey } from '../contracts/layout';
import { jobSpecToEnv } from '../contracts/job';
import { methodLabel } from '../contracts/settings';
import type { SummaryRow } from '../contracts/summary';
import { resolveRunSettings, sweepSize, validateManifest, type Manifest, type ManifestProblem } from '../manifest';
import { PreconditionFailedError, joinUri, type ObjectStore } from '../storage';
import { RunRecord, UploadClaim, readDocument, toJson, type RunEntry } from './documents';
import type { IdSource, PipelineContext } from './context';
import { jobNameFor, type JobSubmitter } from './job-submitter';
import { upsertSummaryRows } from './summary-store';

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
   * A claim still `claimed` after this long belongs to a handler that died between claiming
   * and submitting; a later delivery takes it over. Default 15 minutes (the Lambda maximum).
   */
  claimLeaseMs?: number;
  /** Check that referenced files and images exist (the validator's storage pass). Default true. */
  checkStorage?: boolean;
  /** Store for the files a manifest references (images, lists, weights); default: storeFor(uri) per location. */
  referenceStore?: ObjectStore;
}

export interface RejectionReport {
  version: 1;
  manifestUri: string;
  manifestName: string;
  etag: string;
  rejectedAt: string;
  problemCount: number;
  problems: ManifestProblem[];
}

export type ManifestUploadOutcome =
  | { outcome: 'submitted'; runId: string; jobId: string; arraySize: number; runRecordUri: string; summaryUri: string }
  | { outcome: 'rejected'; rejectionUri: string; problems: ManifestProblem[] }
  | { outcome: 'duplicate'; claimUri: string; claim: UploadClaim }
  | { outcome: 'ignored'; reason: string };

const DEFAULT_LEASE_MS = 15 * 60 * 1000;

function isManifestKey(key: string): boolean {
  return key.startsWith('manifests/') && key.toLowerCase().endsWith('.json') && !key.endsWith('/');
}

type ClaimResult = { kind: 'won'; etag: string } | { kind: 'held'; claim: UploadClaim };

/** Claims the upload; takes over a claim whose holder died before finishing. */
async function claimUpload(deps: ProcessManifestUploadDeps, claimUri: string, claim: UploadClaim): Promise<ClaimResult> {
  const store = deps.resultsStore;
  try {
    return { kind: 'won', etag: await store.put(claimUri, toJson(claim), { ifNoneMatch: '*', contentType: 'application/json' }) };
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const existing = await readDocument(store, claimUri, UploadClaim);
  if (!existing) return claimUpload(deps, claimUri, claim); // released in between: try again
  const age = deps.clock.now().getTime() - Date.parse(existing.value.claimedAt);
  if (existing.value.state !== 'claimed' || age < (deps.claimLeaseMs ?? DEFAULT_LEASE_MS)) return { kind: 'held', claim: existing.value };
  try {
    const etag = await store.put(claimUri, toJson(claim), { ifMatch: existing.etag, contentType: 'application/json' });
    deps.log.warn('took over a stale claim', { claimUri, previousOwner: existing.value.owner, ageMs: age });
    return { kind: 'won', etag };
  } catch (error) {
    if (error instanceof PreconditionFailedError) return { kind: 'held', claim: existing.value };
    throw error;
  }
}

/** The table's view of each run: its method label and the overrides that distinguish it. */
export function runEntriesOf(manifest: Manifest): RunEntry[] {
  const count = sweepSize(manifest);
  return Array.from({ length: count }, (_, sweepIndex) => ({
    sweepIndex,
    method: methodLabel(resolveRunSettings(manifest, sweepIndex)),
    overrides: { ...(manifest.sweep ? manifest.sweep[sweepIndex] : manifest.training) },
  }));
}

/** Validates one uploaded manifest and submits its job or writes its rejection report. */
export async function processManifestUpload(upload: ManifestUpload, deps: ProcessManifestUploadDeps): Promise<ManifestUploadOutcome> {
  const { locations, log } = deps;
  if (!isManifestKey(upload.key)) {
    log.info('ignored an object outside manifests/*.json', { key: upload.key });
    return { outcome: 'ignored', reason: `key "${upload.key}" is not manifests/<name>.json` };
  }
  const etag = cleanEtag(upload.etag);
  const uploadName = manifestNameFromKey(upload.key);
  const manifestUri = joinUri(locations.data, upload.key);
  const claimUri = joinUri(locations.results, resultsKeys.claim(uploadName, etag));
  const claimedAt = deps.clock.now().toISOString();
  const claim: UploadClaim = { state: 'claimed', manifestUri, etag, claimedAt, ...(deps.owner ? { owner: deps.owner } : {}) };

  const claimed = await claimUpload(deps, claimUri, claim);
  if (claimed.kind === 'held') {
    log.info('duplicate delivery: this upload is already claimed', { claimUri, state: claimed.claim.state, runId: claimed.claim.runId });
    return { outcome: 'duplicate', claimUri, claim: claimed.claim };
  }

  let submitted = false;
  try {
    const text = await deps.dataStore.getText(manifestUri);
    const result = await validateManifest(text, {
      manifestUri,
      checkStorage: deps.checkStorage ?? true,
      ...(deps.referenceStore ? { store: deps.referenceStore } : {}),
    });
    if (!result.ok) {
      const rejectionUri = joinUri(locations.results, resultsKeys.rejection(uploadName, etag));
      const report: RejectionReport = {
        version: 1,
        manifestUri,
        manifestName: uploadName,
        etag,
        rejectedAt: claimedAt,
        problemCount: result.problems.length,
        problems: result.problems,
      };
      await deps.resultsStore.put(rejectionUri, toJson(report), { contentType: 'application/json' });
      await deps.resultsStore.put(claimUri, toJson({ ...claim, state: 'rejected', rejectionUri }), { contentType: 'application/json' });
      log.info('manifest rejected', { manifestUri, rejectionUri, problems: result.problems.length });
      return { outcome: 'rejected', rejectionUri, problems: result.problems };
    }

    const manifest = result.manifest;
    const runId = deps.ids.runId();
    const entries = runEntriesOf(manifest);
    const arraySize = entries.length;
    const resultsUri = `${joinUri(locations.results, 'runs', runId)}/`;
    const checkpointUri = `${joinUri(locations.artifacts, 'checkpoints', runId)}/`;
    const cudaCacheUri = joinUri(locations.artifacts, artifactsKeys.cudaCache());
    const env = jobSpecToEnv({ runId, manifestUri, resultsUri, checkpointUri, cudaCacheUri: `${cudaCacheUri}/`, sweepIndex: 0 });
    const jobName = jobNameFor(manifest.name, runId);
    const runRecordUri = joinUri(locations.results, resultsKeys.runRecord(runId));
    // The record exists before the job does, so the aggregation step can always find it.
    const record: RunRecord = {
      version: 1,
      runId,
      manifestName: manifest.name,
      manifestUri,
      manifestEtag: etag,
      jobName,
      arraySize,
      resultsUri,
      checkpointUri,
      submittedAt: claimedAt,
      entries,
      env,
    };
    await deps.resultsStore.put(runRecordUri, toJson(record), { contentType: 'application/json' });

    const { jobId } = await deps.submitter.submit({ runId, name: jobName, arraySize, env });
    submitted = true;
    await deps.resultsStore.put(claimUri, toJson({ ...claim, state: 'submitted', runId, jobId }), { contentType: 'application/json' });
    await deps.resultsStore.put(runRecordUri, toJson({ ...record, jobId }), { contentType: 'application/json' });

    const summaryUri = joinUri(locations.results, resultsKeys.summaryPrefix(manifest.name), 'summary.json');
    const rows: SummaryRow[] = entries.map((entry) => ({
      runId,
      sweepIndex: entry.sweepIndex,
      status: 'SUBMITTED',
      method: entry.method,
      overrides: entry.overrides,
      jobId: arraySize > 1 ? `${jobId}:${entry.sweepIndex}` : jobId,
      submittedAt: claimedAt,
    }));
    await upsertSummaryRows(deps.resultsStore, summaryUri, manifest.name, rows, 'submission', { now: () => deps.clock.now() });
    log.info('job submitted', { manifestUri, runId, jobId, jobName, arraySize });
    return { outcome: 'submitted', runId, jobId, arraySize, runRecordUri, summaryUri };
  } catch (error) {
    // Before submitting, give the claim back so the event's retry can do the work; after,
    // keep it: a second job for the same upload is worse than a missing summary row.
    if (!submitted) await deps.resultsStore.delete(claimUri).catch(() => undefined);
    log.error('processing the upload failed', { manifestUri, submitted, error });
    throw error;
  }
}
