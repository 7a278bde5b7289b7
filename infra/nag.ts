/**
 * cdk-nag (v3: a CDK policy-validation plugin) with the AwsSolutions findings this stack
 * accepts. Each acknowledgement is made on the construct it concerns (a bucket, a role, a
 * function), never stack-wide, so a new resource with the same finding fails the synth, and
 * each reason states what is true of that resource.
 */
import { Validations, type App } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ARTIFACTS_PREFIXES as A, RESULTS_PREFIXES as R, RUN_FILES, RUN_RECORD_FILE } from '../src/contracts/layout';
import type { SagePipelineStack } from './sage-pipeline-stack';

// cdk-nag is CommonJS whose exports Node's ESM loader cannot name: take them from the default export.
const { AwsSolutionsChecks } = cdkNag;

export interface NagAcknowledgement {
  scope: IConstruct;
  id: string;
  reason: string;
}

const PER_KEY = 'object keys carry run ids, upload names or etags, so they cannot be listed one by one';

/** Every accepted finding, on its own resource. */
export function stackAcknowledgements(stack: SagePipelineStack): NagAcknowledgement[] {
  const { batch } = stack;
  const validateRole = stack.validateFunction.role;
  const aggregateRole = stack.aggregateFunction.role;
  const data = '<DataBucketE6B0FAA8.Arn>';
  const artifacts = '<ArtifactsBucket88671897.Arn>';
  const results = '<ResultsBucket46167C27.Arn>';
  const iam5 = (resource: string): string => `AwsSolutions-IAM5[Resource::${resource}]`;
  const acknowledgements: NagAcknowledgement[] = [];
  for (const bucket of [stack.dataBucket, stack.artifactsBucket, stack.resultsBucket]) {
    acknowledgements.push({ scope: bucket, id: 'AwsSolutions-S1', reason: 'Server access logs would need a fourth bucket; CloudTrail S3 data events are the audit trail to enable where an account needs one' });
  }
  acknowledgements.push(
    { scope: batch.vpc, id: 'AwsSolutions-VPC7', reason: 'The VPC carries only the GPU batch instances, whose security group has no inbound rule; flow logs would cost without a consumer. Enable them per account policy' },
    { scope: stack.eventDeadLetters, id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the EventBridge rule targets' },
  );
  for (const fn of [stack.validateFunction, stack.aggregateFunction]) {
    acknowledgements.push({ scope: fn.function, id: 'AwsSolutions-L1', reason: 'The handlers are bundled for and tested on Node 22 (esbuild target node22, Middy 6); a newer runtime is adopted once tested' });
  }
  for (const environment of batch.computeEnvironments) {
    acknowledgements.push({
      scope: environment,
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason: 'The ECS container-instance policy AWS Batch requires on managed EC2 instances; AWS keeps it in step with the ECS agent',
    });
  }
  acknowledgements.push(
    { scope: batch.executionRole, id: iam5('*'), reason: 'ecr:GetAuthorizationToken (pulling the trainer image) has no resource-level permissions' },
    // Validation.
    { scope: validateRole, id: iam5('*'), reason: 'batch:ListJobs (finding a job a dead handler submitted, by its run-id job name) has no resource-level permissions' },
    { scope: validateRole, id: iam5(`${data}/*`), reason: `Read-only: a manifest names lists and images anywhere in the data bucket; the validator refuses references outside it and weights/ (src/manifest/references.ts)` },
    { scope: validateRole, id: iam5(`${artifacts}/${A.weights}*`), reason: `Read-only: the validator checks the config and tensor names of the CLIP weights a manifest names; ${PER_KEY}` },
    { scope: validateRole, id: iam5(`${results}/${R.claims}*`), reason: `Upload claims (one per upload name and etag), read, written and released by validation only; ${PER_KEY}` },
    { scope: validateRole, id: iam5(`${results}/${R.rejections}*`), reason: `Write-only: rejection reports, one per refused upload; ${PER_KEY}` },
    { scope: validateRole, id: iam5(`${results}/${R.runs}*/${RUN_FILES.adapterHeader}`), reason: `Read-only: the header of a trained adapter an inference manifest names; ${PER_KEY}` },
    { scope: validateRole, id: iam5(`${results}/${R.runs}*/${RUN_FILES.adapterTensors}`), reason: `Read-only: the tensor header (a ranged read) of a trained adapter an inference manifest names; ${PER_KEY}` },
    { scope: validateRole, id: iam5(`${results}/${R.runs}*/${RUN_RECORD_FILE}`), reason: `Write-only, and only run records (runs/<runId>/run.json; the run id is drawn at upload time); ${PER_KEY}` },
    // Aggregation.
    { scope: aggregateRole, id: iam5(`${results}/${R.runs}*`), reason: `Read-only: the run record, metrics and progress of the run an event names; ${PER_KEY}` },
    { scope: aggregateRole, id: iam5(`${results}/${R.runs}*/${RUN_FILES.status}`), reason: `Write-only, and only each run child's status.json; ${PER_KEY}` },
    { scope: aggregateRole, id: iam5(`${results}/${R.summaries}*`), reason: `Per-manifest summaries and reports, which aggregation alone writes; ${PER_KEY}` },
    // The run role: an envelope that each job narrows to its own run with a session policy.
    { scope: batch.runRole, id: iam5(`${data}/*`), reason: 'Read-only: the manifest and the images it names, anywhere in the data bucket; each job assumes this role with a session policy (src/contracts/run-access.ts)' },
    { scope: batch.runRole, id: iam5(`${artifacts}/${A.weights}*`), reason: 'Read-only envelope; each job\'s session policy narrows it to the weights folder validation accepted' },
    { scope: batch.runRole, id: iam5(`${artifacts}/${A.checkpoints}*`), reason: 'Envelope; each job\'s session policy narrows it to checkpoints/<runId>/' },
    { scope: batch.runRole, id: iam5(`${artifacts}/${A.cudaCache}*`), reason: 'The CUDA JIT cache that every job shares (restored before training, saved after)' },
    { scope: batch.runRole, id: iam5(`${results}/${R.runs}*`), reason: 'Envelope; each job\'s session policy narrows it to runs/<runId>/' },
  );
  return acknowledgements;
}

/** Adds the AwsSolutions pack to the app and acknowledges the accepted findings on their resources. */
export function addNagChecks(app: App, stack: SagePipelineStack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  for (const { scope, id, reason } of stackAcknowledgements(stack)) Validations.of(scope).acknowledge({ id, reason });
}
