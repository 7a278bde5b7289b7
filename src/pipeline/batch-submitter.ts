/**
 * JobSubmitter on AWS Batch. The only pipeline file that imports the AWS SDK: the local
 * pipeline and the engine never load it.
 */
import { BatchClient, ListJobsCommand, SubmitJobCommand, type BatchClientConfig } from '@aws-sdk/client-batch';
import { JOB_RETRY_RULES, MAX_ARRAY_SIZE } from '../contracts/job';
import type { JobSubmission, JobSubmitter, SubmittedJob } from './job-submitter';
import { PipelineError } from '../common/errors';

export interface BatchJobSubmitterOptions {
  /** Job queue name or ARN. */
  jobQueue: string;
  /** Job definition name, name:revision or ARN. */
  jobDefinition: string;
  client?: BatchClient;
}

export class BatchSubmitError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchSubmitError';
  }
}

/** Batch client options from the environment: AWS_ENDPOINT_URL points it at an emulator. */
export function batchClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BatchClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL_BATCH ?? env.AWS_ENDPOINT_URL;
  return { region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1', ...(endpoint ? { endpoint } : {}) };
}

export class BatchJobSubmitter implements JobSubmitter {
  private readonly client: BatchClient;
  private readonly submitClient: BatchClient;

  constructor(private readonly options: BatchJobSubmitterOptions) {
    this.client = options.client ?? new BatchClient(batchClientConfigFromEnv());
    // SubmitJob is sent once: the SDK would resend a request whose answer was lost (a
    // time-out), and Batch accepts a second job of the same name. A failure goes to the
    // handler instead, which keeps its claim and run id, and its retry looks the job up by name.
    this.submitClient = options.client ?? new BatchClient({ ...batchClientConfigFromEnv(), maxAttempts: 1 });
  }

  async submit(job: JobSubmission): Promise<SubmittedJob> {
    if (job.arraySize < 1 || job.arraySize > MAX_ARRAY_SIZE) {
      throw new BatchSubmitError(`array size must be 1..${MAX_ARRAY_SIZE} (Batch's limit), got ${job.arraySize} for run ${job.runId}`);
    }
    const response = await this.submitClient.send(
      new SubmitJobCommand({
        jobName: job.name,
        jobQueue: this.options.jobQueue,
        jobDefinition: this.options.jobDefinition,
        // Batch array jobs need at least 2 children; one run is a plain job.
        ...(job.arraySize > 1 ? { arrayProperties: { size: job.arraySize } } : {}),
        containerOverrides: { environment: Object.entries(job.env).map(([name, value]) => ({ name, value })) },
        // SubmitJob's retry strategy replaces the definition's whole: repeat its rules with this job's attempts.
        ...(job.attempts !== undefined ? { retryStrategy: { attempts: job.attempts, evaluateOnExit: JOB_RETRY_RULES.map((rule) => ({ ...rule })) } } : {}),
        tags: { 'sage:run-id': job.runId },
        propagateTags: true,
      }),
    );
    if (!response.jobId) throw new BatchSubmitError(`SubmitJob for run ${job.runId} returned no jobId`);
    return { jobId: response.jobId };
  }

  async find(name: string): Promise<SubmittedJob | undefined> {
    // With a filter, ListJobs returns jobs in every status (jobStatus is ignored).
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListJobsCommand({ jobQueue: this.options.jobQueue, filters: [{ name: 'JOB_NAME', values: [name] }], ...(nextToken ? { nextToken } : {}) }),
      );
      const hit = page.jobSummaryList?.find((summary) => summary.jobName === name && summary.jobId);
      if (hit?.jobId) return { jobId: hit.jobId };
      nextToken = page.nextToken;
    } while (nextToken);
    return undefined;
  }
}
