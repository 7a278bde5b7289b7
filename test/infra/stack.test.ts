import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { stackAcknowledgements } from '../../infra/nag';
import { SagePipelineStack } from '../../infra/sage-pipeline-stack';
import { PipelineSettingsError, readPipelineSettings, settingsBudget } from '../../infra/settings';
import { budgetFromEnv, budgetToEnv } from '../../functions/commons/config';
import { resourcesOfType, synthPipeline, type SynthResult } from './synth';

// One synth (with cdk-nag) serves every test in this file: synthesizing takes tens of seconds.
let synth: SynthResult;

beforeAll(() => {
  synth = synthPipeline({ nag: true });
});

/** Replaces content hashes (assets change with every source edit) so the snapshot shows structure. */
function withoutHashes(json: unknown): unknown {
  return JSON.parse(JSON.stringify(json).replace(/[0-9a-f]{64}/g, '<hash>'));
}

describe('the synthesized pipeline stack', () => {
  it('has no custom resources, so it deploys on an emulator as on AWS', () => {
    const types = resourcesOfType(synth.json, 'AWS::CloudFormation::CustomResource').concat(
      Object.entries(synth.json.Resources as Record<string, { Type: string }>)
        .filter(([, r]) => r.Type.startsWith('Custom::'))
        .map(([id]) => [id, {}]),
    );
    expect(types).toEqual([]);
    // Only the two pipeline functions: no provider functions behind the scenes.
    synth.template.resourceCountIs('AWS::Lambda::Function', 2);
  });

  it('creates three private, encrypted, TLS-only buckets, versioning results and artifacts', () => {
    synth.template.resourceCountIs('AWS::S3::Bucket', 3);
    const buckets = resourcesOfType(synth.json, 'AWS::S3::Bucket');
    for (const [, props] of buckets) {
      expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(props.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      expect((props.LifecycleConfiguration as { Rules: unknown[] }).Rules.length).toBeGreaterThan(0);
    }
    const versioned = buckets.filter(([, props]) => (props.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled').map(([id]) => id);
    expect(versioned.sort()).toEqual([expect.stringMatching(/^ArtifactsBucket/), expect.stringMatching(/^ResultsBucket/)]);
    synth.template.resourceCountIs('AWS::S3::BucketPolicy', 3);
    for (const [, policy] of resourcesOfType(synth.json, 'AWS::S3::BucketPolicy')) {
      expect(JSON.stringify(policy)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('sends the data bucket’s object events to EventBridge through its notification configuration', () => {
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: Match.stringLikeRegexp('^DataBucket') }] }, object: { key: [{ wildcard: 'manifests/*.json' }] } },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ValidateManifest'), 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it('routes every job state of its own queue to the aggregation function, which alone writes summaries', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        detail: {
          jobQueue: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^GpuQueue'), 'JobQueueArn'] }],
          status: ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'],
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AggregateMetrics'), 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it('queues spot GPU capacity first and on-demand second, on the ECS GPU AMI', () => {
    synth.template.resourceCountIs('AWS::Batch::ComputeEnvironment', 2);
    const environments = resourcesOfType(synth.json, 'AWS::Batch::ComputeEnvironment');
    const byType = Object.fromEntries(environments.map(([id, props]) => [(props.ComputeResources as { Type: string }).Type, { id, props }]));
    expect(Object.keys(byType).sort()).toEqual(['EC2', 'SPOT']);
    for (const { props } of Object.values(byType)) {
      expect(props.ComputeResources).toMatchObject({
        Ec2Configuration: [{ ImageType: 'ECS_AL2_NVIDIA' }],
        InstanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge', 'g5.2xlarge'],
        MaxvCpus: 64,
        MinvCpus: 0,
      });
    }
    synth.template.hasResourceProperties('AWS::Batch::JobQueue', {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { 'Fn::GetAtt': [byType.SPOT!.id, 'ComputeEnvironmentArn'] }, Order: 1 },
        { ComputeEnvironment: { 'Fn::GetAtt': [byType.EC2!.id, 'ComputeEnvironmentArn'] }, Order: 2 },
      ],
    });
  });

  it('launches GPU instances that require IMDSv2 with a hop limit of 1, so containers cannot reach instance credentials', () => {
    synth.template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 } }),
    });
    const [[templateId]] = resourcesOfType(synth.json, 'AWS::EC2::LaunchTemplate');
    for (const [, props] of resourcesOfType(synth.json, 'AWS::Batch::ComputeEnvironment')) {
      expect((props.ComputeResources as { LaunchTemplate?: { LaunchTemplateId?: unknown } }).LaunchTemplate?.LaunchTemplateId).toEqual({ Ref: templateId });
    }
  });

  it('defines a one-GPU training job (the default of sage:jobGpus) retried on spot reclaims and on "to be continued" exits (75), and nothing else', () => {
    synth.template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'MEMORY', Value: '14336' }, { Type: 'GPU', Value: '1' }]),
        Image: { 'Fn::Sub': Match.stringLikeRegexp('container-assets') },
      }),
      RetryStrategy: {
        Attempts: 10,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'RETRY', OnExitCode: '75' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
      Timeout: { AttemptDurationSeconds: 24 * 3600 },
    });
  });

  it('tells the container the backend it needs and its attempt timeout, the same as the job definition says', () => {
    const [[, definition]] = resourcesOfType(synth.json, 'AWS::Batch::JobDefinition');
    const environment = Object.fromEntries(((definition.ContainerProperties as { Environment: { Name: string; Value: unknown }[] }).Environment).map((e) => [e.Name, e.Value]));
    expect(environment.SAGE_REQUIRED_BACKEND).toBe('tensorflow');
    expect(environment.SAGE_ATTEMPT_SECONDS).toBe(String((definition.Timeout as { AttemptDurationSeconds: number }).AttemptDurationSeconds));
  });

  it('runs both functions on nodejs22.x with a dead-letter queue and their own log group', () => {
    const functions = resourcesOfType(synth.json, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2);
    for (const [, props] of functions) {
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetters/), 'Arn'] } });
      expect(props.LoggingConfig).toEqual({ LogGroup: { Ref: expect.stringMatching(/Logs/) } });
    }
    for (const [, props] of resourcesOfType(synth.json, 'AWS::Logs::LogGroup')) expect(props.RetentionInDays).toBe(30);
  });

  it('hands the validation function the estimate budget: instance types, their throughput and prices, timeout and attempts', () => {
    const [, props] = resourcesOfType(synth.json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ValidateManifest'))!;
    const variables = (props.Environment as { Variables: Record<string, string> }).Variables;
    const budget = JSON.parse(variables.ESTIMATE_BUDGET!) as { instanceTypes: string[]; gpus: Record<string, { peakTflops: number; source?: string }>; jobTimeoutMinutes: number; spotRetries: number; maxAttempts: number; jobGpus: number };
    expect(budget).toMatchObject({ instanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge', 'g5.2xlarge'], jobTimeoutMinutes: 1440, spotRetries: 3, maxAttempts: 10, jobGpus: 1 });
    expect(budget.gpus['g4dn.xlarge']).toMatchObject({ gpu: 'T4', peakTflops: 8.1 });
    expect(budget.gpus['g4dn.xlarge']!.source).toBeUndefined();
    // Lambda allows 4 KB of environment in all.
    expect(Object.entries(variables).reduce((size, [k, v]) => size + k.length + (typeof v === 'string' ? v.length : 60), 0)).toBeLessThan(4096);
  });

  it('names its three buckets and the aggregation log group in stack outputs, which `sage submit --stack` reads', () => {
    const outputs = (synth.json as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {};
    expect(Object.keys(outputs).sort()).toEqual(['AggregateLogGroupName', 'ArtifactsBucketName', 'DataBucketName', 'ResultsBucketName']);
    expect(outputs.DataBucketName!.Value).toEqual({ Ref: expect.stringMatching(/^Data/) });
    expect(outputs.ResultsBucketName!.Value).toEqual({ Ref: expect.stringMatching(/^Results/) });
    // The log group the aggregation function writes to: the one its LoggingConfig names.
    const logGroup = outputs.AggregateLogGroupName!.Value as { Ref: string };
    expect(logGroup).toEqual({ Ref: expect.stringMatching(/^AggregateMetrics/) });
    const resources = (synth.json as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }).Resources;
    expect(resources[logGroup.Ref]!.Type).toBe('AWS::Logs::LogGroup');
    const writers = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && JSON.stringify((r.Properties?.LoggingConfig as { LogGroup?: unknown } | undefined)?.LogGroup) === JSON.stringify({ Ref: logGroup.Ref }))
      .map(([id]) => id);
    expect(writers).toEqual([expect.stringMatching(/^AggregateMetricsFunction/)]);
  });

  it('passes cdk-nag’s AwsSolutions pack with every finding acknowledged', () => {
    expect(synth.validationError?.message ?? '', synth.validationReport).toBe('');
  });

  it('acknowledges each cdk-nag finding on its own resource, never on the stack or the app', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new SagePipelineStack(app, 'Acks');
    const acknowledgements = stackAcknowledgements(stack);
    expect(acknowledgements.length).toBeGreaterThan(10);
    for (const { scope, reason } of acknowledgements) {
      expect(scope).not.toBe(stack);
      expect(scope).not.toBe(app);
      expect(reason.length).toBeGreaterThan(40);
    }
    // Each (resource, finding) pair is acknowledged once.
    const pairs = acknowledgements.map(({ scope, id }) => `${scope.node.path} ${id}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('keeps its overall shape (snapshot; hashes masked)', () => {
    expect(withoutHashes(synth.json)).toMatchSnapshot();
  });
});

describe('GPUs per job (sage:jobGpus)', () => {
  const contextOf = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

  it('reserves the GPUs the context asks for in the job definition and hands the same count to the validation function', () => {
    const { json } = synthPipeline({ context: { 'sage:jobGpus': '4', 'sage:instanceTypes': 'g5.12xlarge' } });
    const [[, definition]] = resourcesOfType(json, 'AWS::Batch::JobDefinition');
    const requirements = (definition.ContainerProperties as { ResourceRequirements: { Type: string; Value: string }[] }).ResourceRequirements;
    expect(requirements.filter((r) => r.Type === 'GPU')).toEqual([{ Type: 'GPU', Value: '4' }]);
    const [, validate] = resourcesOfType(json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ValidateManifest'))!;
    const variables = (validate.Environment as { Variables: Record<string, string> }).Variables;
    const budget = budgetFromEnv(variables)!;
    expect(budget).toMatchObject({ instanceTypes: ['g5.12xlarge'], jobGpus: 4 });
    expect(budget.gpus['g5.12xlarge']).toMatchObject({ gpus: 4, gpu: 'A10G' });
  });

  it('defaults to one, and the function reads back the budget the stack writes', () => {
    const settings = readPipelineSettings(contextOf({}));
    expect(settings.jobGpus).toBe(1);
    const four = readPipelineSettings(contextOf({ 'sage:jobGpus': 4, 'sage:instanceTypes': ['g5.12xlarge'] }));
    expect(budgetFromEnv({ ESTIMATE_BUDGET: budgetToEnv(settingsBudget(four)) })).toEqual({
      ...settingsBudget(four),
      gpus: { 'g5.12xlarge': { ...four.gpus['g5.12xlarge']!, source: 'the stack settings (sage:gpus)' } },
    });
  });

  it('refuses a bad count, and an instance type with fewer GPUs, naming the setting and the type', () => {
    for (const bad of [0, 9, 1.5, 'four']) {
      expect(() => readPipelineSettings(contextOf({ 'sage:jobGpus': bad }))).toThrow(PipelineSettingsError);
      expect(() => readPipelineSettings(contextOf({ 'sage:jobGpus': bad }))).toThrow(/sage:jobGpus: /);
    }
    const read = () => readPipelineSettings(contextOf({ 'sage:jobGpus': 4, 'sage:instanceTypes': 'g5.12xlarge,g5.xlarge' }));
    expect(read).toThrow(PipelineSettingsError);
    expect(read).toThrow('sage:jobGpus: 4 GPUs per job, but g5.xlarge has 1 (sage:gpus): drop it from sage:instanceTypes or lower sage:jobGpus');
    // The default types all have one GPU.
    expect(() => readPipelineSettings(contextOf({ 'sage:jobGpus': 2 }))).toThrow(/but g4dn\.xlarge has 1, g4dn\.2xlarge has 1, g5\.xlarge has 1, g5\.2xlarge has 1 .*drop them/);
  });

  it('refuses an ESTIMATE_BUDGET without the GPU count', () => {
    const { jobGpus: _jobGpus, ...old } = JSON.parse(budgetToEnv(settingsBudget(readPipelineSettings(contextOf({}))))) as Record<string, unknown>;
    expect(() => budgetFromEnv({ ESTIMATE_BUDGET: JSON.stringify(old) })).toThrow(/ESTIMATE_BUDGET \(invalid/);
  });
});

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of the inline policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(json: Record<string, unknown>, rolePrefix: string): Statement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, props]) => (props.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(rolePrefix)))
    .flatMap(([, props]) => (props.PolicyDocument as { Statement: Statement[] }).Statement);
}

const actionsOf = (statements: Statement[]): string[] => [...new Set(statements.flatMap((s) => [s.Action].flat()))].sort();

/** Resources of statements that grant `action`, as strings like `<DataBucket…>/manifests/*`. */
function resourcesFor(statements: Statement[], action: string): string[] {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (v['Fn::GetAtt']) return `<${(v['Fn::GetAtt'] as string[])[0]}>`;
    if (v.Ref) return `<${String(v.Ref)}>`;
    if (v['Fn::Join']) return ((v['Fn::Join'] as [string, unknown[]])[1]).map(render).join('');
    return JSON.stringify(value);
  };
  return statements
    .filter((s) => [s.Action].flat().includes(action))
    .flatMap((s) => [s.Resource].flat().map(render))
    .sort();
}

describe('least-privilege IAM', () => {
  let json: Record<string, unknown>;
  beforeAll(() => {
    json = synth.json;
  });

  it('lets the validation function read data and weights, write only claims, rejections and run records, and submit to this queue', () => {
    const statements = statementsOf(json, 'ValidateManifestRole');
    expect(actionsOf(statements)).toEqual([
      'batch:ListJobs',
      'batch:SubmitJob',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'sqs:SendMessage',
    ]);
    expect(resourcesFor(statements, 'batch:SubmitJob')).toEqual([expect.stringMatching(/^<GpuQueue/), expect.stringMatching(/^<GpuTrainingJob/)]);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual([
      expect.stringMatching(/^<ResultsBucket\w+>\/claims\/\*$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/rejections\/\*$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*\/run\.json$/),
    ]);
    expect(resourcesFor(statements, 's3:DeleteObject')).toEqual([expect.stringMatching(/^<ResultsBucket\w+>\/claims\/\*$/)]);
    // Reads in the results bucket: its own claims, and the two files of an adapter an inference manifest names.
    expect(resourcesFor(statements, 's3:GetObject').filter((r) => r.includes('ResultsBucket'))).toEqual([
      expect.stringMatching(/^<ResultsBucket\w+>\/claims\/\*$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*\/adapter\.json$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*\/adapter\.safetensors$/),
    ]);
    // Of the artifacts, only the weights (validation checks them).
    expect(resourcesFor(statements, 's3:GetObject').filter((r) => r.includes('ArtifactsBucket'))).toEqual([expect.stringMatching(/^<ArtifactsBucket\w+>\/weights\/\*$/)]);
  });

  it('lets the aggregation function read runs and write only statuses and summaries, never Batch or another bucket', () => {
    const statements = statementsOf(json, 'AggregateMetricsRole');
    expect(actionsOf(statements)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:SendMessage']);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual([
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*\/status\.json$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/summaries\/\*$/),
    ]);
    expect(JSON.stringify(statements)).not.toContain('DataBucket');
    expect(JSON.stringify(statements)).not.toContain('ArtifactsBucket');
  });

  it('lets each function write logs only to its own log group and dead letters only to its own queue', () => {
    for (const prefix of ['ValidateManifest', 'AggregateMetrics']) {
      const statements = statementsOf(json, `${prefix}Role`);
      expect(resourcesFor(statements, 'logs:PutLogEvents')).toEqual([expect.stringMatching(new RegExp(`^<${prefix}Logs`))]);
      expect(resourcesFor(statements, 'sqs:SendMessage')).toEqual([expect.stringMatching(new RegExp(`^<${prefix}DeadLetters`))]);
    }
  });

  it('lets the training container only assume the run role, whose envelope holds data, weights, runs, checkpoints and the CUDA cache', () => {
    const job = statementsOf(json, 'GpuJobRole');
    expect(actionsOf(job)).toEqual(['sts:AssumeRole']);
    expect(resourcesFor(job, 'sts:AssumeRole')).toEqual([expect.stringMatching(/^<GpuRunRole/)]);
    synth.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GpuJobRole'), 'Arn'] } } })] },
      MaxSessionDuration: 3600,
    });
    const run = statementsOf(json, 'GpuRunRole');
    expect(actionsOf(run)).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(resourcesFor(run, 's3:PutObject')).toEqual([
      expect.stringMatching(/^<ArtifactsBucket\w+>\/checkpoints\/\*$/),
      expect.stringMatching(/^<ArtifactsBucket\w+>\/cuda-cache\/\*$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*$/),
    ]);
    expect(resourcesFor(run, 's3:GetObject').filter((r) => r.includes('ArtifactsBucket'))).toEqual([
      expect.stringMatching(/^<ArtifactsBucket\w+>\/checkpoints\/\*$/),
      expect.stringMatching(/^<ArtifactsBucket\w+>\/cuda-cache\/\*$/),
      expect.stringMatching(/^<ArtifactsBucket\w+>\/weights\/\*$/),
    ]);
    // The container learns the role to assume from its environment.
    synth.template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({ Environment: Match.arrayWith([{ Name: 'SAGE_RUN_ROLE_ARN', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GpuRunRole'), 'Arn'] } }]) }),
    });
  });

  it('grants no wildcard action, and no action on every resource except batch:ListJobs (which has no resource-level permissions)', () => {
    for (const prefix of ['ValidateManifestRole', 'AggregateMetricsRole', 'GpuJobRole', 'GpuRunRole']) {
      for (const statement of statementsOf(json, prefix)) {
        expect([statement.Action].flat().some((action) => action.includes('*'))).toBe(false);
        if ([statement.Resource].flat().includes('*')) expect([prefix, statement.Action]).toEqual(['ValidateManifestRole', 'batch:ListJobs']);
      }
    }
  });
});
