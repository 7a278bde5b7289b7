/**
 * What `sage submit` does once it knows the buckets: upload the manifest to the data
 * bucket, wait for the validation handler's verdict (its claim of this upload), then
 * follow the run's rows in the summary until every one has ended. Bucket roots are URIs,
 * so the same code follows a deployed stack (s3://) or a local pipeline (folders).
 *
 * An upload is handled once per name and etag (the claim key, src/contracts/layout.ts), so
 * the same text uploaded again is the earlier run: `findEarlierUpload` finds its claim
 * before anything is uploaded. `--rerun` uploads the same text under a new name beside it,
 * `manifests/<name>.rerun-<UTC time>.json`: a new claim key, so a new run, while the
 * manifest's bytes (and its `name`, which keys the summary) stay what they were.
 */
import { cleanEtag, manifestKey, resultsKeys, summaryFiles, uploadNameOf } from '../contracts/layout';
import type { SettingsOverrides } from '../contracts/settings';
import { Summary, type SummaryRow } from '../contracts/summary';
import { PROBLEM_CODES, type ManifestProblem, type ProblemCode } from '../manifest/schema';
import { readDocument, RejectionReportSchema, UploadClaim } from '../pipeline';
import { isObject, manifestReferences, parseLooseJson, withAbsoluteReferences, withSettingsLayer } from '../local/stage-manifest';
import { isS3Uri, joinUri, type ObjectStore } from '../storage';
import { CliInputError } from './exit-codes';

export interface SubmitTargets {
  /** `s3://<data bucket>` (or a folder standing in for it). */
  dataRoot: string;
  resultsRoot: string;
  dataStore: ObjectStore;
  resultsStore: ObjectStore;
}

export interface FollowOptions {
  /** Seconds between polls. */
  pollSeconds: number;
  /** Give up waiting for the validation verdict after this many seconds. */
  validationTimeoutSeconds: number;
  /** Give up following the jobs after this many seconds; 0 = never. */
  runTimeoutSeconds: number;
  /** Batch's own status of a job (SUBMITTED, RUNNABLE, STARTING, RUNNING, ...), when it can be asked. */
  jobStatus?: (jobId: string) => Promise<string | undefined>;
  onLine: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
  /** The aggregation function's CloudWatch log group (stack output AggregateLogGroupName), named when it seems not to run. */
  aggregationLogGroup?: string;
  /**
   * Polls after Batch reports the job's end without the summary moving before the follower
   * says the aggregation has not run. Default: a minute's worth (at least 2).
   */
  stallPolls?: number;
}

/** The claim of an identical earlier upload: when it was made and which run it became. */
export interface EarlierUpload {
  upload: UploadedManifest;
  claim: UploadClaim;
}

export type SubmitOutcome =
  | { outcome: 'rejected'; problems: ManifestProblem[]; rejectionUri: string }
  | { outcome: 'submitted'; runId: string; jobId: string; manifestName: string; claimedAt?: string }
  | { outcome: 'finished'; runId: string; jobId: string; manifestName: string; rows: SummaryRow[]; summaryUri: string; reportUri: string }
  | { outcome: 'timed-out'; stage: 'validation' | 'run'; detail: string };

export interface UploadedManifest {
  key: string;
  uri: string;
  etag: string;
  /** The name the handler files the upload under (the key without manifests/ and .json). */
  uploadName: string;
  /** The name the summary is filed under: the upload name, less a rerun's suffix. */
  manifestName: string;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The upload's name: layout's rule on the manifest text (its own `name` when usable, else the file name). */
export function uploadNameFor(text: string, sourceUri: string): string {
  return uploadNameOf(parseLooseJson(text), sourceUri);
}

/**
 * The text to upload. The upload lands in `manifests/`, away from the file's own folder, so
 * relative references are resolved against where the file is now; every reference must then
 * be in S3, because the Lambda and the Batch job cannot read this machine's disk. Text that
 * does not parse goes up as it is, for the validator to report.
 */
export function manifestForUpload(text: string, sourceUri: string, settings?: SettingsOverrides): string {
  const parsed = parseLooseJson(text);
  if (!isObject(parsed)) return text;
  const resolved = withAbsoluteReferences(parsed, sourceUri);
  const local = manifestReferences(resolved).filter(([, uri]) => !isS3Uri(uri));
  if (local.length > 0) {
    throw new CliInputError(
      `the pipeline on AWS cannot read this machine's files, but the manifest refers to ${local.map(([field, uri]) => `${field} = ${uri}`).join(', ')}: upload them to S3 (or prepare with --out s3://...) and refer to the s3:// locations`,
    );
  }
  return `${JSON.stringify(withSettingsLayer(resolved, settings), null, 2)}\n`;
}

/** `<name>.rerun-20261202T183000Z`: the upload name `--rerun` files the same manifest under. */
export function rerunUploadName(uploadName: string, now: Date): string {
  return `${uploadName}.rerun-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/**
 * The earlier upload of exactly this text under this name, with its claim: what uploading it
 * again would come back to. Undefined when the object differs, is absent, or was never claimed.
 */
export async function findEarlierUpload(targets: SubmitTargets, text: string, uploadName: string): Promise<EarlierUpload | undefined> {
  const key = manifestKey(uploadName);
  const uri = joinUri(targets.dataRoot, key);
  const info = await targets.dataStore.head(uri);
  if (!info || (await targets.dataStore.getText(uri)) !== text) return undefined;
  const etag = cleanEtag(info.etag);
  // A claim that cannot be read is no earlier run: the upload goes ahead as a new one.
  const claim = (await readDocument(targets.resultsStore, joinUri(targets.resultsRoot, resultsKeys.claim(uploadName, etag)), UploadClaim).catch(() => null))?.value;
  return claim ? { upload: { key, uri, etag, uploadName, manifestName: uploadName }, claim } : undefined;
}

const KNOWN_CODES: readonly string[] = PROBLEM_CODES;

/** A stored problem as the validator's type: a code this version does not know is dropped, the text kept. */
function asManifestProblem({ code, ...rest }: RejectionReportSchema['problems'][number]): ManifestProblem {
  return { ...rest, ...(code !== undefined && KNOWN_CODES.includes(code) ? { code: code as ProblemCode } : {}) };
}

/** Uploads to `manifests/<uploadName>.json`; `manifestName` is the summary's name when the upload name is a rerun's. */
export async function uploadManifest(targets: SubmitTargets, text: string, uploadName: string, manifestName = uploadName): Promise<UploadedManifest> {
  const key = manifestKey(uploadName);
  const uri = joinUri(targets.dataRoot, key);
  const etag = cleanEtag(await targets.dataStore.put(uri, text, { contentType: 'application/json' }));
  return { key, uri, etag, uploadName, manifestName };
}

/** Waits for the validation handler's claim of this upload to say `submitted` or `rejected`. */
export async function awaitVerdict(targets: SubmitTargets, upload: UploadedManifest, options: FollowOptions): Promise<SubmitOutcome> {
  const sleep = options.sleep ?? defaultSleep;
  const claimUri = joinUri(targets.resultsRoot, resultsKeys.claim(upload.uploadName, upload.etag));
  const deadline = Date.now() + options.validationTimeoutSeconds * 1000;
  options.onLine(`waiting for validation (${claimUri})`);
  for (;;) {
    const claim = (await readDocument(targets.resultsStore, claimUri, UploadClaim))?.value;
    if (claim?.state === 'rejected') {
      const rejectionUri = claim.rejectionUri ?? joinUri(targets.resultsRoot, resultsKeys.rejection(upload.uploadName, upload.etag));
      const report = (await readDocument(targets.resultsStore, rejectionUri, RejectionReportSchema))?.value;
      return { outcome: 'rejected', problems: (report?.problems ?? []).map(asManifestProblem), rejectionUri };
    }
    if (claim?.state === 'submitted' && claim.runId && claim.jobId) {
      options.onLine(`validated: run ${claim.runId}, Batch job ${claim.jobId}`);
      return { outcome: 'submitted', runId: claim.runId, jobId: claim.jobId, manifestName: upload.manifestName, claimedAt: claim.claimedAt };
    }
    if (Date.now() >= deadline) {
      return { outcome: 'timed-out', stage: 'validation', detail: `no verdict at ${claimUri} after ${options.validationTimeoutSeconds} s: is the stack deployed and the upload notification on?` };
    }
    await sleep(options.pollSeconds * 1000);
  }
}

function isTerminal(row: SummaryRow): boolean {
  return row.status === 'SUCCEEDED' || row.status === 'FAILED';
}

/** What the follower says when Batch has ended a job and the summary shows nothing of it. */
export function aggregationStalledLine(jobId: string, batchStatus: string, waitedSeconds: number, logGroup: string | undefined): string {
  const logs = logGroup
    ? `its log group is ${logGroup} (aws logs tail ${logGroup} --since 1h)`
    : "its log group is the stack output AggregateLogGroupName (give --stack to have it named here)";
  return `Batch reports job ${jobId} ${batchStatus}, but the summary has not changed in ${waitedSeconds} s since: the aggregation function has not run or has failed; ${logs}`;
}

/**
 * Follows the run's summary rows (and Batch's job status) until every row has ended. When
 * Batch says the job ended and the run's rows stay as they were for `stallPolls` polls, the
 * aggregation function (which writes them from Batch's events) has not done its part: the
 * follower says so once, naming its log group, and goes on waiting.
 */
export async function followRun(targets: SubmitTargets, run: { runId: string; jobId: string; manifestName: string }, options: FollowOptions): Promise<SubmitOutcome> {
  const sleep = options.sleep ?? defaultSleep;
  const { summaryUri, htmlUri } = summaryFiles(targets.resultsRoot, run.manifestName);
  const deadline = options.runTimeoutSeconds > 0 ? Date.now() + options.runTimeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
  const stallPolls = options.stallPolls ?? Math.max(2, Math.ceil(60 / Math.max(1, options.pollSeconds)));
  const seen = new Map<string, string>();
  const note = (key: string, state: string, line: string): void => {
    if (seen.get(key) === state) return;
    seen.set(key, state);
    options.onLine(line);
  };
  // The rows as they were when Batch's end was first seen, and polls since without a change.
  let endedRows: string | undefined;
  let pollsSinceEnd = 0;
  for (;;) {
    const batchStatus = options.jobStatus ? await options.jobStatus(run.jobId).catch(() => undefined) : undefined;
    if (batchStatus) note('job', batchStatus, `job ${run.jobId}: ${batchStatus}`);
    const summary = (await readDocument(targets.resultsStore, summaryUri, Summary))?.value;
    const rows = summary ? summary.rows.filter((row) => row.runId === run.runId) : [];
    if (rows.length === 0) note('rows', 'none', `run ${run.runId}: no summary rows yet (the aggregation function writes them from Batch's first state change)`);
    for (const row of rows) {
      const accuracy = row.accuracy ? `, top-1 ${(row.accuracy.all * 100).toFixed(1)}%` : '';
      note(`row ${row.sweepIndex}`, row.status, `#${row.sweepIndex} ${row.method}: ${row.status}${accuracy}${row.reason ? ` (${row.reason})` : ''}`);
    }
    if (rows.length > 0 && rows.every(isTerminal)) {
      const { runId, jobId, manifestName } = run;
      return { outcome: 'finished', runId, jobId, manifestName, rows, summaryUri, reportUri: htmlUri };
    }
    if (batchStatus === 'SUCCEEDED' || batchStatus === 'FAILED') {
      const state = JSON.stringify(rows.map((row) => [row.sweepIndex, row.status, row.statusAt ?? null]));
      if (state !== endedRows) {
        endedRows = state;
        pollsSinceEnd = 0;
      } else if (++pollsSinceEnd === stallPolls) {
        options.onLine(aggregationStalledLine(run.jobId, batchStatus, pollsSinceEnd * options.pollSeconds, options.aggregationLogGroup));
      }
    }
    if (Date.now() >= deadline) return { outcome: 'timed-out', stage: 'run', detail: `run ${run.runId} still going after ${options.runTimeoutSeconds} s; follow it later with sage report ${summaryUri}` };
    await sleep(options.pollSeconds * 1000);
  }
}

/** What `sage submit` reads from a stack's outputs. */
export interface StackTargets {
  data: string;
  results: string;
  /** The aggregation function's log group, when the stack has the output. */
  aggregationLogGroup?: string;
}

/**
 * Bucket names from a stack's outputs: keys starting DataBucket / ResultsBucket
 * (case-insensitive), and the aggregation function's log group (AggregateLogGroup...) when there.
 */
export function bucketsFromOutputs(outputs: readonly { OutputKey?: string; OutputValue?: string }[], stackName: string): StackTargets {
  const lookup = (prefix: string): string | undefined => outputs.find((o) => o.OutputKey?.toLowerCase().startsWith(prefix.toLowerCase()) && o.OutputValue)?.OutputValue;
  const find = (prefix: string): string => {
    const hit = lookup(prefix);
    if (!hit) {
      const keys = outputs.map((o) => o.OutputKey).join(', ') || 'none';
      throw new CliInputError(`stack ${stackName} has no ${prefix}... output (outputs: ${keys}); pass --data-bucket and --results-bucket instead`);
    }
    return hit.replace(/^s3:\/\//, '').replace(/\/+$/, '');
  };
  const logGroup = lookup('AggregateLogGroup');
  return { data: find('DataBucket'), results: find('ResultsBucket'), ...(logGroup ? { aggregationLogGroup: logGroup } : {}) };
}
