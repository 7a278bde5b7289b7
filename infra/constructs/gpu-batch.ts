/**
 * The GPU side: a VPC with public subnets only (no NAT gateway to pay for; S3 through a
 * gateway endpoint), two managed EC2 compute environments on the ECS GPU AMI (spot first,
 * on-demand after it in the queue) whose instances require IMDSv2 with a hop limit of 1 (a
 * container cannot reach the host's instance credentials), one job queue, and the training
 * job definition: 1 GPU, the trainer image, retried when EC2 takes a spot host back or an
 * attempt checkpointed before its deadline (exit 75), with the attempts each job's estimate needs.
 * The job's task role may only assume the run role, with a session policy for its own run.
 */
import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT } from '../paths';
import { JOB_ENV, JOB_RETRY_RULES } from '../../src/contracts/job';
import { RUN_ROLE_ENV } from '../../src/contracts/run-access';
import type { PipelineSettings } from '../settings';

export interface GpuBatchProps {
  settings: PipelineSettings;
  /** Environment every training job gets (the per-run variables come with SubmitJob). */
  environment: Record<string, string>;
}

/** Paths of the repository the image build needs; everything else stays out of the Docker context. */
export const IMAGE_CONTEXT_EXCLUDES = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!tsconfig.json',
  '!src/**',
  '!container/**',
];

/** The container size a cache miss on a non-T4 GPU needs: tfjs-node-gpu's PTX JIT output (SPEC §5). */
export const CUDA_CACHE_MAX_BYTES = 4 * 1024 ** 3;

export class GpuBatch extends Construct {
  readonly vpc: ec2.Vpc;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  /** The container's task role: it may only assume `runRole` (scoped to one run by a session policy). */
  readonly jobRole: iam.Role;
  /** Every run's envelope of S3 access; a job uses it only through a session scoped to its run. */
  readonly runRole: iam.Role;
  readonly launchTemplate: ec2.LaunchTemplate;
  /** Pulls the image and writes the job's logs (made by the container definition). */
  readonly executionRole: iam.IRole;
  readonly computeEnvironments: batch.ManagedEc2EcsComputeEnvironment[];
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: GpuBatchProps) {
    super(scope, id);
    const { settings } = props;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: settings.maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'gpu', subnetType: ec2.SubnetType.PUBLIC }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      // The restriction is done by a custom resource; the instances use their own group anyway.
      restrictDefaultSecurityGroup: false,
    });
    const securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: this.vpc,
      description: 'GPU batch instances: no inbound traffic, outbound to S3, ECR and CloudWatch',
      allowAllOutbound: true,
    });

    const instanceTypes = settings.instanceTypes.map((name) => new ec2.InstanceType(name));
    // IMDSv2 only, one hop: the ECS agent on the host reads instance metadata, a container never does.
    this.launchTemplate = new ec2.LaunchTemplate(this, 'InstanceLaunchTemplate', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
    });
    const environmentFor = (name: string, spot: boolean): batch.ManagedEc2EcsComputeEnvironment =>
      new batch.ManagedEc2EcsComputeEnvironment(this, name, {
        vpc: this.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
        securityGroups: [securityGroup],
        instanceTypes,
        launchTemplate: this.launchTemplate,
        useOptimalInstanceClasses: false,
        images: [{ imageType: batch.EcsMachineImageType.ECS_AL2_NVIDIA }],
        minvCpus: 0,
        maxvCpus: settings.maxvCpus,
        spot,
        ...(spot
          ? { spotBidPercentage: settings.spotBidPercentage, allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED }
          : { allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE }),
      });
    this.computeEnvironments = settings.spot ? [environmentFor('SpotGpu', true), environmentFor('OnDemandGpu', false)] : [environmentFor('OnDemandGpu', false)];

    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      computeEnvironments: this.computeEnvironments.map((computeEnvironment, order) => ({ computeEnvironment, order: order + 1 })),
    });

    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      retention: settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'The training container: may only assume the run role, for its own run',
    });
    this.runRole = new iam.Role(this, 'RunRole', {
      assumedBy: new iam.ArnPrincipal(this.jobRole.roleArn),
      description: 'S3 access of training runs, always assumed with a session policy for one run (src/contracts/run-access.ts)',
      // Role chaining caps a session at one hour; the container refreshes it before it ends.
      maxSessionDuration: Duration.hours(1),
    });
    this.runRole.grantAssumeRole(this.jobRole);
    const image = settings.containerImage
      ? ecs.ContainerImage.fromRegistry(settings.containerImage)
      : ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'container/Dockerfile', exclude: IMAGE_CONTEXT_EXCLUDES });

    const container = new batch.EcsEc2ContainerDefinition(this, 'Trainer', {
      image,
      cpu: settings.jobVcpus,
      memory: Size.mebibytes(settings.jobMemoryMiB),
      // One replica per GPU the container sees (src/trainer/parallel/replica-count.ts).
      gpu: settings.jobGpus,
      jobRole: this.jobRole,
      environment: {
        AWS_REGION: Stack.of(this).region,
        CUDA_CACHE_MAXSIZE: String(CUDA_CACHE_MAX_BYTES),
        [RUN_ROLE_ENV]: this.runRole.roleArn,
        // The trainer refuses wasm or cpu on a GPU instance (exit 3), and checkpoints before the attempt's timeout (exit 75).
        [JOB_ENV.requiredBackend]: 'tensorflow',
        [JOB_ENV.attemptSeconds]: String(settings.jobTimeoutMinutes * 60),
        ...props.environment,
      },
      logging: ecs.LogDriver.awsLogs({ streamPrefix: 'trainer', logGroup: this.logGroup }),
    });
    this.executionRole = container.executionRole;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'TrainingJob', {
      container,
      timeout: Duration.minutes(settings.jobTimeoutMinutes),
      retryAttempts: settings.jobAttempts,
      // The rules are src/contracts/job.ts's, which SubmitJob repeats with each job's own attempts.
      retryStrategies: JOB_RETRY_RULES.map((rule) =>
        batch.RetryStrategy.of(
          rule.action === 'RETRY' ? batch.Action.RETRY : batch.Action.EXIT,
          batch.Reason.custom({
            ...(rule.onStatusReason ? { onStatusReason: rule.onStatusReason } : {}),
            ...(rule.onExitCode ? { onExitCode: rule.onExitCode } : {}),
            ...(rule.onReason ? { onReason: rule.onReason } : {}),
          }),
        ),
      ),
    });
  }
}
