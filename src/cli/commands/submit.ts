/**
 * `sage submit <manifest>`: upload to the deployed data bucket and follow the run:
 * the validation verdict, Batch's job status, and the final metrics. Buckets come from the
 * CloudFormation stack's outputs, or from flags. The same manifest submitted again is the
 * earlier run (said so, and followed); `--rerun` makes it a new one (submit-follow.ts).
 * Lines for a person go to stderr; stdout has the result: the table, or one JSON document.
 */
import type { Command } from 'commander';
import type { SummaryRow } from '../../contracts/summary';
import { CliInputError, CliRunFailedError } from '../exit-codes';
import { parseLocation, parsePositiveInteger, parseNonNegativeInteger } from '../options';
import type { CliOutput } from '../output';
import { addSettingsFlags, type SettingsFlags } from '../settings-flags';
import { addConfigFlags, type ConfigFlags } from '../settings-layer';
import type { StackTargets, SubmitOutcome } from '../submit-follow';

interface SubmitFlags extends SettingsFlags, ConfigFlags {
  stack: string;
  dataBucket?: string;
  resultsBucket?: string;
  region?: string;
  follow: boolean;
  poll: number;
  validationTimeout: number;
  timeout: number;
  rerun?: boolean;
  json?: boolean;
  dryRun?: boolean;
}

/** What `sage submit --json` prints on stdout: the outcome, where the manifest went, and an identical earlier upload's run. */
export type SubmitJson = SubmitOutcome & {
  upload: { uri: string; etag: string; uploadName: string };
  /** Set when this text had been submitted before under the same name: the run it became, and when. */
  earlier?: { runId?: string; state: string; claimedAt: string; completedAt?: string };
};

async function resolveBuckets(flags: SubmitFlags): Promise<StackTargets> {
  if (flags.dataBucket && flags.resultsBucket) return { data: flags.dataBucket, results: flags.resultsBucket };
  if (flags.dataBucket || flags.resultsBucket) throw new CliInputError('give both --data-bucket and --results-bucket, or neither (then they come from --stack)');
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient(flags.region ? { region: flags.region } : {});
  const { bucketsFromOutputs } = await import('../submit-follow');
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: flags.stack }));
    return bucketsFromOutputs(response.Stacks?.[0]?.Outputs ?? [], flags.stack);
  } catch (error) {
    if (error instanceof CliInputError) throw error;
    throw new CliInputError(`cannot read the outputs of stack ${flags.stack}: ${(error as Error).message}`);
  }
}

export function registerSubmit(program: Command, output: CliOutput): void {
  const command = program
    .command('submit')
    .description('upload a manifest to the deployed pipeline and follow the run: validation result, Batch job status, final metrics')
    .argument('<manifest>', 'manifest JSON (path or s3:// URI); relative references resolve against its place in the data bucket', parseLocation)
    .option('--stack <name>', 'CloudFormation stack to read the bucket names (and the aggregation log group) from', 'SagePipeline')
    .option('--data-bucket <name>', 'data bucket (instead of the stack outputs)')
    .option('--results-bucket <name>', 'results bucket (instead of the stack outputs)')
    .option('--region <region>', 'AWS region (default: the profile / AWS_REGION)')
    .option('--no-follow', 'return after the validation verdict')
    .option('--poll <seconds>', 'seconds between status checks', parsePositiveInteger, 10)
    .option('--validation-timeout <seconds>', 'how long to wait for the validation verdict', parsePositiveInteger, 300)
    .option('--timeout <seconds>', 'stop following after this long (0: follow to the end)', parseNonNegativeInteger, 0)
    .option('--rerun', 'start a new run even when this manifest was submitted before unchanged (it is uploaded as manifests/<name>.rerun-<time>.json)')
    .option('--json', 'print the outcome as one JSON document on stdout (docs/cli.md) instead of the table')
    .option('--dry-run', "validate what would be uploaded and print each run's GPU estimate (time, cost, micro-batch, attempts); upload nothing");
  addConfigFlags(addSettingsFlags(command)).action(async (manifestUri: string, flags: SubmitFlags) => {
    const { storeFor } = await import('../../storage');
    const follow = await import('../submit-follow');
    const layers = await import('../settings-layer');
    const settings = await layers.settingsLayerFrom(flags);
    if (flags.printConfig) {
      const manifest = await layers.parsedManifestAt(manifestUri);
      layers.printConfig(manifestUri, manifest, settings, layers.allRuns(manifest), output);
      return;
    }
    const source = await storeFor(manifestUri);
    if (!(await source.exists(manifestUri))) throw new CliInputError(`no manifest at ${manifestUri}`);
    const original = await source.getText(manifestUri);
    if (settings) {
      // The layer joins every sweep entry; a combination it makes invalid is named here rather than by the Lambda.
      const { parseManifest } = await import('../../manifest');
      const parsed = parseManifest(original);
      if (parsed.ok) layers.runsWithLayer(parsed.manifest, settings, layers.allRuns(parsed.manifest));
    }
    const text = follow.manifestForUpload(original, manifestUri, settings);
    if (flags.dryRun) {
      await dryRun(text, manifestUri, flags, output);
      return;
    }
    const buckets = await resolveBuckets(flags);
    const dataRoot = `s3://${buckets.data}`;
    const resultsRoot = `s3://${buckets.results}`;
    const targets = { dataRoot, resultsRoot, dataStore: await storeFor(dataRoot), resultsStore: await storeFor(resultsRoot) };
    const manifestName = follow.uploadNameFor(original, manifestUri);

    const { BatchClient, DescribeJobsCommand } = await import('@aws-sdk/client-batch');
    const batch = new BatchClient(flags.region ? { region: flags.region } : {});
    const options = {
      pollSeconds: flags.poll,
      validationTimeoutSeconds: flags.validationTimeout,
      runTimeoutSeconds: flags.timeout,
      onLine: (line: string) => output.err(line),
      jobStatus: async (jobId: string) => (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0]?.status,
      ...(buckets.aggregationLogGroup ? { aggregationLogGroup: buckets.aggregationLogGroup } : {}),
    };

    const earlier = flags.rerun ? undefined : await follow.findEarlierUpload(targets, text, manifestName);
    let upload;
    if (earlier) {
      upload = earlier.upload;
      const { claim } = earlier;
      const what = claim.state === 'submitted' && claim.runId ? `as run ${claim.runId}` : claim.state === 'rejected' ? 'and rejected' : '(its validation is under way)';
      output.err(`already submitted ${what} at ${claim.claimedAt}; --rerun to start a new one`);
    } else {
      const uploadName = flags.rerun ? follow.rerunUploadName(manifestName, new Date()) : manifestName;
      upload = await follow.uploadManifest(targets, text, uploadName, manifestName);
      output.err(`uploaded ${upload.uri} (etag ${upload.etag})`);
    }
    const json = (outcome: SubmitOutcome): SubmitJson => ({
      ...outcome,
      upload: { uri: upload.uri, etag: upload.etag, uploadName: upload.uploadName },
      ...(earlier
        ? { earlier: { state: earlier.claim.state, claimedAt: earlier.claim.claimedAt, ...(earlier.claim.runId ? { runId: earlier.claim.runId } : {}), ...(earlier.claim.completedAt ? { completedAt: earlier.claim.completedAt } : {}) } }
        : {}),
    });

    const verdict = await follow.awaitVerdict(targets, upload, options);
    const final = verdict.outcome === 'submitted' && flags.follow ? await follow.followRun(targets, verdict, options) : verdict;
    await reportOutcome(final, output, flags.json ? json(final) : undefined);
  });
}

/**
 * Prints an outcome: the human lines (stderr) and table (stdout), or only `document` as JSON
 * on stdout. Throws for the exit code of a rejection (2), a failed run or a time-out (1).
 */
export async function reportOutcome(outcome: SubmitOutcome, output: CliOutput, document?: SubmitJson): Promise<void> {
  if (document) output.out(JSON.stringify(document, null, 2));
  switch (outcome.outcome) {
    case 'rejected': {
      const { ManifestValidationError } = await import('../../manifest/problems');
      output.err(`rejected: ${outcome.rejectionUri}`);
      throw new ManifestValidationError(outcome.problems);
    }
    case 'submitted':
      if (!document) output.out(`submitted: run ${outcome.runId}, Batch job ${outcome.jobId}`);
      return;
    case 'timed-out':
      throw new CliRunFailedError(`timed out waiting for the ${outcome.stage}: ${outcome.detail}`);
    case 'finished': {
      if (!document) {
        const { buildReportModel, methodsTable } = await import('../../report');
        const summary = { version: 1 as const, manifestName: outcome.manifestName, updatedAt: new Date().toISOString(), rows: outcome.rows };
        output.out(methodsTable(buildReportModel({ summary, metrics: [] })));
        output.out(`\nreport: ${outcome.reportUri}`);
      }
      const failed = outcome.rows.filter((row: SummaryRow) => row.status === 'FAILED');
      if (failed.length > 0) throw new CliRunFailedError(`${failed.length} of ${outcome.rows.length} run(s) failed`);
      return;
    }
  }
}

/**
 * `--dry-run`: the upload's own checks on what would be uploaded (references made absolute,
 * settings folded in), with the estimate the validation function makes, from ./cdk.json's
 * budget (the deployed stack's settings when run in the project) or the defaults.
 */
async function dryRun(text: string, manifestUri: string, flags: SubmitFlags, output: CliOutput): Promise<void> {
  const { validateUpload, ManifestValidationError } = await import('../../manifest');
  const { estimateManifest, estimateProblems } = await import('../../pipeline');
  const { describeSweepEstimate, storedEstimate } = await import('../../estimate');
  const { cliBudget } = await import('../budget');
  const checked = await validateUpload(text, { manifestUri });
  if (!checked.result.ok) {
    if (flags.json) output.out(JSON.stringify({ outcome: 'rejected', dryRun: true, problems: checked.result.problems }, null, 2));
    throw new ManifestValidationError(checked.result.problems, manifestUri);
  }
  if (checked.kind === 'predict') {
    const result = checked.result;
    if (flags.json) output.out(JSON.stringify({ outcome: 'valid', dryRun: true, kind: 'predict', images: result.imageCount }, null, 2));
    else output.err(`valid inference manifest: ${result.imageCount} images; nothing uploaded (--dry-run)`);
    return;
  }
  const result = checked.result;
  const { budget, from } = await cliBudget();
  const estimate = result.clip ? estimateManifest(result.manifest, result.clip, result.counts, budget) : undefined;
  // A run the budget cannot hold (time or GPU memory) is refused as the validation function refuses it: its problems, exit 2, never "valid".
  const problems = estimate && !estimate.fits ? estimateProblems(result.manifest.sweep !== undefined, estimate) : undefined;
  if (flags.json) {
    output.out(JSON.stringify({ outcome: problems ? 'would-be-refused' : 'valid', dryRun: true, budgetFrom: from, ...(problems ? { problems } : {}), ...(estimate ? { estimate: storedEstimate(estimate) } : {}) }, null, 2));
  } else {
    output.err(`${problems ? 'would be refused' : 'valid'}: ${manifestUri}; nothing uploaded (--dry-run)`);
    output.out(`estimate (${from}):`);
    for (const line of estimate ? describeSweepEstimate(estimate) : ["none: the weights' config.json could not be read"]) output.out(`  ${line}`);
  }
  if (problems) throw new ManifestValidationError(problems, manifestUri);
}
