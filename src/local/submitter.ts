/**
 * The local stand-in for AWS Batch: `submit` queues a job and answers with its id, as
 * SubmitJob does; `runSubmitted` then runs the queued jobs (array children at most
 * `concurrency` at a time) and reports each change as the "Batch Job State Change" event
 * Batch would send: the job's SUBMITTED, each child's RUNNING and end, then the array
 * parent's end.
 */
import { JOB_ENV } from '../contracts/job';
import { childJobId, type Clock, type JobStateChange, type JobSubmission, type JobSubmitter, type SubmittedJob } from '../pipeline';
import type { JobRunner, JobRunOutcome } from './job-runner';

export interface LocalJobSubmitterOptions {
  runner: JobRunner;
  /** Called with each job's (or array child's) end, in the shape the aggregation core takes. */
  onStateChange: (change: JobStateChange) => Promise<void>;
  /** Array children run at most this many at a time. Default 1. */
  concurrency?: number;
  clock?: Clock;
}

interface QueuedJob {
  job: JobSubmission;
  jobId: string;
}

export interface LocalJobResult {
  jobId: string;
  sweepIndex: number;
  outcome: JobRunOutcome;
}

export class LocalJobSubmitter implements JobSubmitter {
  private readonly queue: QueuedJob[] = [];
  private counter = 0;

  constructor(private readonly options: LocalJobSubmitterOptions) {}

  private readonly byName = new Map<string, string>();

  async submit(job: JobSubmission): Promise<SubmittedJob> {
    this.counter += 1;
    const jobId = `local-${job.runId}-${this.counter}`;
    this.queue.push({ job, jobId });
    this.byName.set(job.name, jobId);
    return { jobId };
  }

  async find(name: string): Promise<SubmittedJob | undefined> {
    const jobId = this.byName.get(name);
    return jobId ? { jobId } : undefined;
  }

  /** Jobs submitted and not yet run. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs every queued job to its end and reports each; resolves with every child's outcome. */
  async runSubmitted(): Promise<LocalJobResult[]> {
    const results: LocalJobResult[] = [];
    while (this.queue.length > 0) results.push(...(await this.runJob(this.queue.shift()!)));
    return results;
  }

  private async runJob({ job, jobId }: QueuedJob): Promise<LocalJobResult[]> {
    const isArray = job.arraySize > 1;
    const indices = Array.from({ length: job.arraySize }, (_, i) => i);
    const results: LocalJobResult[] = [];
    const singleIndex = Number(job.env[JOB_ENV.sweepIndex] ?? '0');
    // As Batch does, the job's own SUBMITTED comes first (the aggregation step makes the rows from it).
    await this.options.onStateChange({
      jobId,
      jobName: job.name,
      status: 'SUBMITTED',
      runId: job.runId,
      role: isArray ? { kind: 'parent', arraySize: job.arraySize } : { kind: 'single', sweepIndex: singleIndex },
      finishedAt: this.now().toISOString(),
      at: this.now().toISOString(),
    });
    const runChild = async (index: number): Promise<void> => {
      const env = isArray ? { ...job.env, [JOB_ENV.arrayIndex]: String(index) } : job.env;
      const sweepIndex = isArray ? index : singleIndex;
      const childId = childJobId(jobId, isArray ? job.arraySize : 1, index);
      const role = isArray ? ({ kind: 'child', sweepIndex } as const) : ({ kind: 'single', sweepIndex } as const);
      await this.options.onStateChange({ jobId: childId, jobName: job.name, status: 'RUNNING', runId: job.runId, role, finishedAt: this.now().toISOString(), at: this.now().toISOString() });
      const outcome = await this.options.runner.run(env, `#${sweepIndex}`);
      results.push({ jobId: childId, sweepIndex, outcome });
      await this.options.onStateChange({
        jobId: childId,
        jobName: job.name,
        status: outcome.status,
        runId: job.runId,
        role,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        finishedAt: this.now().toISOString(),
        at: this.now().toISOString(),
      });
    };
    await runPool(indices, Math.max(1, this.options.concurrency ?? 1), runChild);
    if (isArray) {
      const failed = results.filter((r) => r.outcome.status === 'FAILED').length;
      // As Batch does: the parent fails when any child failed.
      await this.options.onStateChange({
        jobId,
        jobName: job.name,
        status: failed > 0 ? 'FAILED' : 'SUCCEEDED',
        runId: job.runId,
        role: { kind: 'parent', arraySize: job.arraySize },
        ...(failed > 0 ? { reason: `${failed} of ${job.arraySize} child jobs failed` } : {}),
        finishedAt: this.now().toISOString(),
      });
    }
    return results.sort((a, b) => a.sweepIndex - b.sweepIndex);
  }

  private now(): Date {
    return this.options.clock?.now() ?? new Date();
  }
}

/** Runs `work` on every item with at most `limit` in flight, in order of start. */
async function runPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
