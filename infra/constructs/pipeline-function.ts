/**
 * A pipeline Lambda with its defaults in one place: Node 22 on ARM, an esbuild bundle made
 * locally (never in Docker), its own log group with a retention (no log-retention custom
 * resource), a role that may only write to that log group until the stack grants more,
 * and an SQS dead-letter queue for invocations that fail after Lambda's retries.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { repoPath } from '../paths';

export interface PipelineFunctionProps {
  /** Handler source, relative to the repository root (`functions/<name>/index.ts`). */
  entry: string;
  memoryMiB: number;
  timeout: Duration;
  logRetentionDays: number;
  environment: Record<string, string>;
}

/** ESM bundles still meet CommonJS dependencies that call require(): give them one. */
const ESM_REQUIRE_SHIM = "import { createRequire as __sageCreateRequire } from 'node:module'; const require = __sageCreateRequire(import.meta.url);";

/** esbuild options shared by the stack and the bundle-size benchmark. */
export const FUNCTION_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: false,
  // The SDK is bundled (not taken from the runtime) so the pinned version with S3 conditional writes ships.
  externalModules: [] as string[],
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_SHIM,
  forceDockerBundling: false,
};

export class PipelineFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.entry}: its own logs plus what the stack grants`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.function = new NodejsFunction(this, 'Function', {
      entry: repoPath(props.entry),
      handler: 'handler',
      projectRoot: repoPath(),
      depsLockFilePath: repoPath('package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 2,
      bundling: FUNCTION_BUNDLING,
    });
  }
}
