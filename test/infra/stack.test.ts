import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { resourcesOfType, synthPipeline, type SynthResult } from './synth';

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

  it('routes terminal job states of its own queue to the aggregation function', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        detail: { jobQueue: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^GpuQueue'), 'JobQueueArn'] }], status: ['SUCCEEDED', 'FAILED'] },
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

  it('defines a one-GPU training job that retries only spot reclaims', () => {
    synth.template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'MEMORY', Value: '14336' }, { Type: 'GPU', Value: '1' }]),
        Image: { 'Fn::Sub': Match.stringLikeRegexp('container-assets') },
      }),
      RetryStrategy: { Attempts: 5, EvaluateOnExit: [{ Action: 'RETRY', OnStatusReason: 'Host EC2*' }, { Action: 'EXIT', OnReason: '*' }] },
      Timeout: { AttemptDurationSeconds: 12 * 3600 },
    });
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

  it('passes cdk-nag’s AwsSolutions pack with every finding acknowledged', () => {
    expect(synth.validationError?.message ?? '', synth.validationReport).toBe('');
  });

  it('keeps its overall shape (snapshot; hashes masked)', () => {
    expect(withoutHashes(synth.json)).toMatchSnapshot();
  });
});
