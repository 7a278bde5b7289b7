/**
 * The whole AWS pipeline in one stack:
 *
 *   data bucket ── manifests/*.json Object Created ──▶ EventBridge ──▶ validate-manifest λ ──▶ Batch SubmitJob
 *   Batch queue ── Job State Change SUCCEEDED/FAILED ──▶ EventBridge ──▶ aggregate-metrics λ ──▶ results bucket
 *
 * No custom resources and no look-ups, so the same template deploys on AWS and on an emulator.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_ENV, budgetToEnv } from '../functions/commons/config';
import { ARTIFACTS_PREFIXES, DATA_PREFIXES, RESULTS_PREFIXES, RUN_FILES, RUN_RECORD_FILE } from '../src/contracts/layout';
import { GpuBatch } from './constructs/gpu-batch';
import { PipelineFunction } from './constructs/pipeline-function';
import { SecureBucket } from './constructs/secure-bucket';
import { readPipelineSettings, settingsBudget, type PipelineSettings } from './settings';

export interface SagePipelineStackProps extends StackProps {
  /** Settings; default: read from CDK context (infra/settings.ts). */
  settings?: PipelineSettings;
}

type Access = 'read' | 'write' | 'delete';

const ACTIONS: Record<Access, string[]> = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject'],
  delete: ['s3:DeleteObject'],
};

export class SagePipelineStack extends Stack {
  readonly dataBucket: s3.Bucket;
  readonly artifactsBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly batch: GpuBatch;
  readonly validateFunction: PipelineFunction;
  readonly aggregateFunction: PipelineFunction;
  /** Dead letters of the EventBridge rule targets. */
  readonly eventDeadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: SagePipelineStackProps = {}) {
    super(scope, id, props);
    const settings = props.settings ?? readPipelineSettings(this.node);

    this.dataBucket = new SecureBucket(this, 'Data', { versioned: false, eventBridge: true }).bucket;
    this.artifactsBucket = new SecureBucket(this, 'Artifacts', {
      versioned: true,
      noncurrentVersionDays: settings.noncurrentVersionDays,
      lifecycleRules: [
        { id: 'expire-checkpoints', prefix: ARTIFACTS_PREFIXES.checkpoints, expiration: Duration.days(settings.checkpointRetentionDays) },
        { id: 'expire-old-cuda-cache', prefix: ARTIFACTS_PREFIXES.cudaCache, noncurrentVersionExpiration: Duration.days(settings.checkpointRetentionDays) },
      ],
    }).bucket;
    this.resultsBucket = new SecureBucket(this, 'Results', {
      versioned: true,
      noncurrentVersionDays: settings.noncurrentVersionDays,
      lifecycleRules: [{ id: 'expire-claims', prefix: RESULTS_PREFIXES.claims, expiration: Duration.days(settings.claimRetentionDays) }],
    }).bucket;

    const bucketEnv = {
      [FUNCTION_ENV.dataBucket]: this.dataBucket.bucketName,
      [FUNCTION_ENV.resultsBucket]: this.resultsBucket.bucketName,
      [FUNCTION_ENV.artifactsBucket]: this.artifactsBucket.bucketName,
    };
    this.batch = new GpuBatch(this, 'Gpu', { settings, environment: {} });
    this.grantJobAccess(this.batch.runRole);

    this.validateFunction = new PipelineFunction(this, 'ValidateManifest', {
      entry: 'functions/validate-manifest/index.ts',
      memoryMiB: settings.validateMemoryMiB,
      timeout: Duration.seconds(settings.validateTimeoutSeconds),
      logRetentionDays: settings.logRetentionDays,
      environment: {
        ...bucketEnv,
        [FUNCTION_ENV.jobQueue]: this.batch.jobQueue.jobQueueArn,
        [FUNCTION_ENV.jobDefinition]: this.batch.jobDefinition.jobDefinitionArn,
        [FUNCTION_ENV.estimateBudget]: budgetToEnv(settingsBudget(settings)),
      },
    });
    this.aggregateFunction = new PipelineFunction(this, 'AggregateMetrics', {
      entry: 'functions/aggregate-metrics/index.ts',
      memoryMiB: settings.aggregateMemoryMiB,
      timeout: Duration.seconds(settings.aggregateTimeoutSeconds),
      logRetentionDays: settings.logRetentionDays,
      environment: bucketEnv,
    });
    this.grantValidateAccess(this.validateFunction.role);
    this.grantAggregateAccess(this.aggregateFunction.role);
    this.eventDeadLetters = this.routeEvents();

    // `sage submit --stack <name>` finds the buckets (and, when the summary stops moving, the aggregation logs) through these outputs.
    new CfnOutput(this, 'DataBucketName', { value: this.dataBucket.bucketName, description: 'Upload manifests to manifests/*.json here' });
    new CfnOutput(this, 'ResultsBucketName', { value: this.resultsBucket.bucketName, description: 'Runs, summaries and reports' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.artifactsBucket.bucketName, description: 'CLIP weights, checkpoints, CUDA cache' });
    new CfnOutput(this, 'AggregateLogGroupName', { value: this.aggregateFunction.logGroup.logGroupName, description: "The aggregation function's logs: look here when Batch ended a job and its summary row did not follow" });
  }

  /** Object actions on key patterns of one bucket, plus ListBucket so a missing key reads as 404, not 403. */
  private allow(role: iam.IRole, bucket: s3.IBucket, access: Access[], keyPatterns: string[]): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: access.flatMap((a) => ACTIONS[a]),
        resources: keyPatterns.map((pattern) => bucket.arnForObjects(pattern)),
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  }

  /**
   * Validation: read manifests and the files they name (anywhere in the data bucket) and the
   * CLIP weights; write only claims, rejection reports and run records; submit to this queue
   * and find a job it may have submitted before (ListJobs has no resource-level permissions).
   */
  private grantValidateAccess(role: iam.IRole): void {
    this.allow(role, this.dataBucket, ['read'], ['*']);
    this.allow(role, this.artifactsBucket, ['read'], [`${ARTIFACTS_PREFIXES.weights}*`]);
    this.allow(role, this.resultsBucket, ['read', 'write', 'delete'], [`${RESULTS_PREFIXES.claims}*`]);
    this.allow(role, this.resultsBucket, ['write'], [`${RESULTS_PREFIXES.rejections}*`, `${RESULTS_PREFIXES.runs}*/${RUN_RECORD_FILE}`]);
    // An inference manifest names a trained adapter: validation reads its two files, nothing else of a run.
    this.allow(role, this.resultsBucket, ['read'], [`${RESULTS_PREFIXES.runs}*/${RUN_FILES.adapterHeader}`, `${RESULTS_PREFIXES.runs}*/${RUN_FILES.adapterTensors}`]);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['batch:SubmitJob'],
        resources: [this.batch.jobQueue.jobQueueArn, this.batch.jobDefinition.jobDefinitionArn],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs'], resources: ['*'] }));
  }

  /** Aggregation: read run records, metrics and progress; write only statuses, summaries and reports. */
  private grantAggregateAccess(role: iam.IRole): void {
    this.allow(role, this.resultsBucket, ['read'], [`${RESULTS_PREFIXES.runs}*`]);
    this.allow(role, this.resultsBucket, ['write'], [`${RESULTS_PREFIXES.runs}*/${RUN_FILES.status}`]);
    this.allow(role, this.resultsBucket, ['read', 'write'], [`${RESULTS_PREFIXES.summaries}*`]);
  }

  /**
   * Training: the envelope of every run (data, weights, results under runs/, checkpoints, the
   * CUDA cache). A job never uses it whole: the container assumes this role with a session
   * policy for its own run (src/contracts/run-access.ts), so it reads and writes only its run's
   * prefixes and the weights it was given.
   */
  private grantJobAccess(role: iam.IRole): void {
    this.allow(role, this.dataBucket, ['read'], ['*']);
    this.allow(role, this.artifactsBucket, ['read'], [`${ARTIFACTS_PREFIXES.weights}*`]);
    this.allow(role, this.artifactsBucket, ['read', 'write', 'delete'], [`${ARTIFACTS_PREFIXES.checkpoints}*`]);
    this.allow(role, this.artifactsBucket, ['read', 'write'], [`${ARTIFACTS_PREFIXES.cudaCache}*`]);
    this.allow(role, this.resultsBucket, ['read', 'write'], [`${RESULTS_PREFIXES.runs}*`]);
  }

  private routeEvents(): sqs.Queue {
    const targetDeadLetters = new sqs.Queue(this, 'EventDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const targetOptions = { deadLetterQueue: targetDeadLetters, retryAttempts: 8, maxEventAge: Duration.hours(6) };

    new events.Rule(this, 'ManifestUploaded', {
      description: 'A manifest lands in the data bucket: validate it',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [this.dataBucket.bucketName] }, object: { key: events.Match.wildcard(`${DATA_PREFIXES.manifests}*.json`) } },
      },
      targets: [new targets.LambdaFunction(this.validateFunction.function, targetOptions)],
    });
    new events.Rule(this, 'TrainingJobEnded', {
      description: 'A training job (or array child) of this queue changed state: update its summary row, and aggregate its metrics when it ends',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        // Every state: the summary shows a run from SUBMITTED on, and between attempts.
        detail: { jobQueue: [this.batch.jobQueue.jobQueueArn], status: ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'] },
      },
      targets: [new targets.LambdaFunction(this.aggregateFunction.function, targetOptions)],
    });
    return targetDeadLetters;
  }
}
