/**
 * `sage submit <manifest>`: upload to the deployed data bucket and follow the run:
 * the validation verdict, Batch's job status, and the final metrics. Buckets come from the
 * CloudFormation stack's outputs, or from flags.
 */
import type { Command } from 'commander';
import { CliInputError, CliRunFailedError } from '../exit-codes';
import { parseLocation, parsePositiveInteger, parseNonNegativeInteger } from '../options';
import type { CliOutput } from '../output';

interface SubmitFlags {
  stack: string;
  dataBucket?: string;
  resultsBucket?: string;
  region?: string;
  follow: boolean;
  poll: number;
  validationTimeout: number;
  timeout: number;
}

async function resolveBuckets(flags: SubmitFlags): Promise<{ data: string; results: string }> {
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
  program
    .command('submit')
    .description('upload a manifest to the deployed pipeline and follow the run: validation result, Batch job status, final metrics')
    .argument('<manifest>', 'manifest JSON (path or s3:// URI); relative references resolve against its place in the data bucket', parseLocation)
    .option('--stack <name>', 'CloudFormation stack to read the bucket names from', 'SagePipeline')
    .option('--data-bucket <name>', 'data bucket (instead of the stack outputs)')
    .option('--results-bucket <name>', 'results bucket (instead of the stack outputs)')
    .option('--region <region>', 'AWS region (default: the profile / AWS_REGION)')
    .option('--no-follow', 'return after the validation verdict')
    .option('--poll <seconds>', 'seconds between status checks', parsePositiveInteger, 10)
    .option('--validation-timeout <seconds>', 'how long to wait for the validation verdict', parsePositiveInteger, 300)
    .option('--timeout <seconds>', 'stop following after this long (0: follow to the end)', parseNonNegativeInteger, 0)
    .action(async (manifestUri: string, flags: SubmitFlags) => {
      const { storeFor } = await import('../../storage');
      const follow = await import('../submit-follow');
      const source = await storeFor(manifestUri);
      if (!(await source.exists(manifestUri))) throw new CliInputError(`no manifest at ${manifestUri}`);
      const original = await source.getText(manifestUri);
      const text = follow.manifestForUpload(original, manifestUri);
      const buckets = await resolveBuckets(flags);
      const dataRoot = `s3://${buckets.data}`;
      const resultsRoot = `s3://${buckets.results}`;
      const targets = { dataRoot, resultsRoot, dataStore: await storeFor(dataRoot), resultsStore: await storeFor(resultsRoot) };
      const upload = await follow.uploadManifest(targets, text, follow.uploadNameFor(original, manifestUri));
      output.err(`uploaded ${upload.uri} (etag ${upload.etag})`);
      const { BatchClient, DescribeJobsCommand } = await import('@aws-sdk/client-batch');
      const batch = new BatchClient(flags.region ? { region: flags.region } : {});
      const options = {
        pollSeconds: flags.poll,
        validationTimeoutSeconds: flags.validationTimeout,
        runTimeoutSeconds: flags.timeout,
        onLine: (line: string) => output.err(line),
        jobStatus: async (jobId: string) => (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0]?.status,
      };
      const verdict = await follow.awaitVerdict(targets, upload, options);
      await reportOutcome(verdict, output);
      if (verdict.outcome !== 'submitted' || !flags.follow) return;
      await reportOutcome(await follow.followRun(targets, verdict, options), output);
    });
}

/** Prints an outcome; throws for the exit code of a rejection (2), a failed run or a time-out (1). */
export async function reportOutcome(outcome: import('../submit-follow').SubmitOutcome, output: CliOutput): Promise<void> {
  switch (outcome.outcome) {
    case 'rejected': {
      const { ManifestValidationError } = await import('../../manifest/problems');
      output.err(`rejected: ${outcome.rejectionUri}`);
      throw new ManifestValidationError(outcome.problems);
    }
    case 'submitted':
      output.out(JSON.stringify({ runId: outcome.runId, jobId: outcome.jobId }));
      return;
    case 'timed-out':
      throw new CliRunFailedError(`timed out waiting for the ${outcome.stage}: ${outcome.detail}`);
    case 'finished': {
      const { buildReportModel, methodsTable } = await import('../../report');
      const summary = { version: 1 as const, manifestName: outcome.manifestName, updatedAt: new Date().toISOString(), rows: outcome.rows };
      output.out(methodsTable(buildReportModel({ summary, metrics: [] })));
      output.out(`\nreport: ${outcome.reportUri}`);
      const failed = outcome.rows.filter((row) => row.status === 'FAILED');
      if (failed.length > 0) throw new CliRunFailedError(`${failed.length} of ${outcome.rows.length} run(s) failed`);
      return;
    }
  }
}
