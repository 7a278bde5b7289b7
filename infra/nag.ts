/**
 * cdk-nag (v3: a CDK policy-validation plugin) with the AwsSolutions findings this stack
 * accepts, each acknowledged with its reason. Filled in from nag runs.
 */
import { Validations, type App, type Stack } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';

// cdk-nag is CommonJS whose exports Node's ESM loader cannot name: take them from the default export.
const { AwsSolutionsChecks } = cdkNag;

export interface NagAcknowledgement {
  id: string;
  reason: string;
}

const SCOPED_KEYS = 'scoped to one bucket and a key prefix the role owns; object keys are per run, so they cannot be listed one by one';

export const STACK_ACKNOWLEDGEMENTS: NagAcknowledgement[] = [
  { id: 'AwsSolutions-S1', reason: 'Server access logs would need a fourth bucket; CloudTrail S3 data events are the recommended audit trail and cost nothing until enabled' },
  { id: 'AwsSolutions-VPC7', reason: 'The VPC only carries GPU batch instances with no inbound rules; flow logs add cost without a consumer. Enable them per account policy' },
  { id: 'AwsSolutions-L1', reason: 'SPEC section 4 pins Lambda to nodejs22.x (the tested runtime; Middy 6 on Node 20/22)' },
  { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the EventBridge rule targets' },
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
    reason: 'The ECS container-instance policy AWS Batch requires on managed EC2 instances; it changes with the ECS agent',
  },
  { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken (execution role) has no resource-level permissions' },
  { id: 'AwsSolutions-IAM5[Resource::<DataBucketE6B0FAA8.Arn>/*]', reason: `Read-only: manifests name images anywhere in the data bucket; ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ArtifactsBucket88671897.Arn>/*]', reason: `Read-only: the trainer reads CLIP weights wherever the manifest points; ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ArtifactsBucket88671897.Arn>/weights/*]', reason: `Read-only: validation checks that the CLIP weights exist; ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ArtifactsBucket88671897.Arn>/checkpoints/*]', reason: `Trainer checkpoints, ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ArtifactsBucket88671897.Arn>/cuda-cache/*]', reason: `The CUDA JIT cache archive, ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ResultsBucket46167C27.Arn>/runs/*]', reason: `Run records, metrics and statuses, ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ResultsBucket46167C27.Arn>/claims/*]', reason: `Upload claims (duplicate-event guard), ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ResultsBucket46167C27.Arn>/rejections/*]', reason: `Rejection reports, ${SCOPED_KEYS}` },
  { id: 'AwsSolutions-IAM5[Resource::<ResultsBucket46167C27.Arn>/summaries/*]', reason: `Per-manifest summaries and reports, ${SCOPED_KEYS}` },
];

/** Adds the AwsSolutions pack to the app and acknowledges the accepted findings on the stack. */
export function addNagChecks(app: App, stack: Stack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  for (const acknowledgement of STACK_ACKNOWLEDGEMENTS) Validations.of(stack).acknowledge(acknowledgement);
}
