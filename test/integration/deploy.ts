/**
 * Deploys the real synthesized stack on the emulator's CloudFormation. One documented
 * exception (SPEC section 4): moto cannot create CDK's Batch compute environments through
 * CloudFormation, so the Batch resources are created through the Batch API from the
 * template's own properties, with stand-ins for what they reference, and their ARNs are
 * substituted into the template before CreateStack. Lambda asset zips go to the CDK assets
 * bucket and the bootstrap version to SSM, as `cdk bootstrap` would have left them.
 * A second gap: moto's CloudFormation ignores a bucket's
 * NotificationConfiguration.EventBridgeConfiguration, so after CreateStack the harness
 * applies that same property with PutBucketNotificationConfiguration.
 */
import { BatchClient, CreateComputeEnvironmentCommand, CreateJobQueueCommand, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import type { CreateComputeEnvironmentCommandInput, CreateJobQueueCommandInput, RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';
import { CloudFormationClient, CreateStackCommand, DescribeStackEventsCommand, DescribeStackResourcesCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AddRoleToInstanceProfileCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SagePipelineStack } from '../../infra/sage-pipeline-stack';
import { awsJsonCall } from './moto';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
interface Resource {
  Type: string;
  Properties?: JsonObject;
  DependsOn?: string | string[];
}
export interface Template {
  Resources: Record<string, Resource>;
  [section: string]: Json | Record<string, Resource>;
}

export interface SynthesizedApp {
  outdir: string;
  template: Template;
  templatePath: string;
}

/** Synthesizes the stack with real Lambda bundles (local esbuild) and without cdk-nag. */
export function synthesizeForDeploy(): SynthesizedApp {
  // cfn-lint validates this template; CDK's own (slower) schema validation is left off.
  process.env.CDK_VALIDATION ??= 'false';
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sage-deploy-'));
  const app = new App({ outdir });
  new SagePipelineStack(app, 'SagePipeline');
  app.synth();
  const templatePath = path.join(outdir, 'SagePipeline.template.json');
  return { outdir, templatePath, template: JSON.parse(readFileSync(templatePath, 'utf8')) as Template };
}

/** cfn-lint's exit status is a bit mask: 2 errors, 4 warnings, 8 informational. */
export function cfnLint(templatePath: string): { errors: boolean; output: string } | null {
  const found = spawnSync('sh', ['-c', 'command -v cfn-lint'], { encoding: 'utf8' });
  if (found.status !== 0) return null;
  const result = spawnSync('cfn-lint', ['--', templatePath], { encoding: 'utf8' });
  return { errors: ((result.status ?? 2) & 2) !== 0 || (result.status ?? 0) === 1, output: `${result.stdout}${result.stderr}` };
}

/** `{ Ref }`, `{ Fn::GetAtt }`, `{ Fn::Sub }`, `{ Fn::Join }` and pseudo parameters, resolved by `lookup`. */
function resolveIntrinsics(value: Json, lookup: (logicalId: string, attribute?: string) => string): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, lookup));
  if (value === null || typeof value !== 'object') return value;
  const pseudo: Record<string, string> = { 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
  if (typeof value.Ref === 'string') return pseudo[value.Ref] ?? lookup(value.Ref);
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return lookup(String(getAtt[0]), String(getAtt[1]));
  const sub = value['Fn::Sub'];
  if (typeof sub === 'string') return sub.replace(/\$\{([^}]+)\}/g, (_m, name: string) => pseudo[name] ?? lookup(name));
  const join = value['Fn::Join'];
  if (Array.isArray(join)) return (join[1] as Json[]).map((part) => String(resolveIntrinsics(part, lookup))).join(String(join[0]));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveIntrinsics(item, lookup)]));
}

/** CloudFormation's PascalCase property names to the API's camelCase; map keys (awslogs-group) stay. */
function camelKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [/^[A-Z]/.test(key) ? key[0]!.toLowerCase() + key.slice(1) : key, camelKeys(item)]));
}

const BATCH_TYPES = ['AWS::Batch::ComputeEnvironment', 'AWS::Batch::JobQueue', 'AWS::Batch::JobDefinition'];

export interface BatchSubstitution {
  arns: Record<string, string>;
  jobQueueArn: string;
  jobDefinitionArn: string;
}

/** Creates the template's Batch resources through the Batch API, with stand-ins for what they reference. */
async function createBatchResources(template: Template, clients: { batch: BatchClient; iam: IAMClient; ec2: EC2Client }): Promise<BatchSubstitution> {
  const standIns = new Map<string, string>();
  let vpcId: string | undefined;
  const arns: Record<string, string> = {};
  const ensureVpc = async (): Promise<string> => {
    vpcId ??= (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }))).Vpc!.VpcId!;
    return vpcId;
  };
  const createRole = async (name: string, service: string): Promise<string> =>
    (
      await clients.iam.send(
        new CreateRoleCommand({
          RoleName: name,
          AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] }),
        }),
      )
    ).Role!.Arn!;
  // Stand-ins for the template resources the Batch properties point at, made once each.
  const standIn = async (logicalId: string): Promise<string> => {
    const known = arns[logicalId] ?? standIns.get(logicalId);
    if (known) return known;
    const type = template.Resources[logicalId]?.Type;
    let id: string;
    switch (type) {
      case 'AWS::IAM::Role':
        id = await createRole(`standin-${logicalId}`.slice(0, 64), 'ecs-tasks.amazonaws.com');
        break;
      case 'AWS::IAM::InstanceProfile': {
        const name = `standin-${logicalId}`.slice(0, 64);
        await createRole(name, 'ec2.amazonaws.com');
        id = (await clients.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile!.Arn!;
        await clients.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }));
        break;
      }
      case 'AWS::EC2::Subnet': {
        const index = standIns.size;
        id = (await clients.ec2.send(new CreateSubnetCommand({ VpcId: await ensureVpc(), CidrBlock: `10.9.${index}.0/24` }))).Subnet!.SubnetId!;
        break;
      }
      case 'AWS::EC2::SecurityGroup':
        id = (await clients.ec2.send(new CreateSecurityGroupCommand({ VpcId: await ensureVpc(), GroupName: logicalId, Description: 'stand-in' }))).GroupId!;
        break;
      case 'AWS::Logs::LogGroup':
        id = `/standin/${logicalId}`;
        break;
      default:
        throw new Error(`no stand-in for ${logicalId} (${String(type)}) referenced by a Batch resource`);
    }
    standIns.set(logicalId, id);
    return id;
  };
  /** Resolves intrinsics asynchronously: collect the referenced ids, make their stand-ins, then substitute. */
  const resolve = async (value: Json): Promise<Json> => {
    const referenced = new Set<string>();
    resolveIntrinsics(value, (logicalId) => (referenced.add(logicalId), ''));
    for (const logicalId of referenced) await standIn(logicalId);
    return resolveIntrinsics(value, (logicalId) => arns[logicalId] ?? standIns.get(logicalId)!);
  };

  const serviceRole = await createRole('standin-batch-service', 'batch.amazonaws.com');
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
  for (const [logicalId, resource] of ofType('AWS::Batch::ComputeEnvironment')) {
    // The launch template (IMDSv2) deploys through CloudFormation like any EC2 resource; moto's
    // Batch API needs no reference to it, and the stand-ins could not resolve its version attribute.
    const properties = structuredClone(resource.Properties ?? {}) as { ComputeResources?: Record<string, unknown> };
    delete properties.ComputeResources?.LaunchTemplate;
    const props = camelKeys(await resolve(properties as Json)) as JsonObject;
    const input = {
      computeEnvironmentName: logicalId,
      type: String(props.type).toUpperCase(), // CDK emits `managed`; the API wants MANAGED
      state: props.state ?? 'ENABLED',
      computeResources: props.computeResources,
      serviceRole,
    } as unknown as CreateComputeEnvironmentCommandInput;
    arns[logicalId] = (await clients.batch.send(new CreateComputeEnvironmentCommand(input))).computeEnvironmentArn!;
  }
  for (const [logicalId, resource] of ofType('AWS::Batch::JobQueue')) {
    const props = camelKeys(await resolve(resource.Properties ?? {})) as JsonObject;
    const input = { jobQueueName: logicalId, ...props } as unknown as CreateJobQueueCommandInput;
    arns[logicalId] = (await clients.batch.send(new CreateJobQueueCommand(input))).jobQueueArn!;
  }
  for (const [logicalId, resource] of ofType('AWS::Batch::JobDefinition')) {
    const props = camelKeys(await resolve(resource.Properties ?? {})) as JsonObject;
    const input = { jobDefinitionName: logicalId, ...props } as unknown as RegisterJobDefinitionCommandInput;
    arns[logicalId] = (await clients.batch.send(new RegisterJobDefinitionCommand(input))).jobDefinitionArn!;
  }
  const [queueId] = ofType('AWS::Batch::JobQueue')[0]!;
  const [definitionId] = ofType('AWS::Batch::JobDefinition')[0]!;
  return { arns, jobQueueArn: arns[queueId]!, jobDefinitionArn: arns[definitionId]! };
}

/** The template without its Batch resources, every reference to them replaced by the ARN. */
export function substituteBatch(template: Template, arns: Record<string, string>): Template {
  const replace = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(replace);
    if (value === null || typeof value !== 'object') return value;
    if (typeof value.Ref === 'string' && arns[value.Ref]) return arns[value.Ref]!;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && arns[String(getAtt[0])]) return arns[String(getAtt[0])]!;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replace(item)]));
  };
  const resources: Record<string, Resource> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (BATCH_TYPES.includes(resource.Type)) continue;
    const dependsOn = [resource.DependsOn ?? []].flat().filter((id) => !arns[id]);
    const next = replace(resource as unknown as Json) as unknown as Resource;
    if (dependsOn.length > 0) next.DependsOn = dependsOn;
    else delete next.DependsOn;
    resources[logicalId] = next;
  }
  return { ...template, Resources: resources };
}

/** Zips each Lambda asset folder of the cloud assembly into the CDK assets bucket. */
async function uploadLambdaAssets(synth: SynthesizedApp, s3: S3Client): Promise<void> {
  const bucket = `cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const resource of Object.values(synth.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const key = String((resource.Properties!.Code as JsonObject).S3Key);
    const folder = path.join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const zip = path.join(synth.outdir, key);
    // python's zipfile CLI stores each named file at the top of the archive, as Lambda expects.
    execFileSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(folder).map((file) => path.join(folder, file))]);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(zip) }));
  }
}

export interface DeployedStack {
  stackName: string;
  status: string;
  /** Logical id → physical id of every stack resource. */
  physicalIds: Record<string, string>;
  batch: BatchSubstitution;
  /** Logical ids of resources by type, for finding the buckets and rules. */
  template: Template;
}

export async function deployOnEmulator(synth: SynthesizedApp, endpoint: string, extraResources: Record<string, Resource> = {}): Promise<DeployedStack> {
  const config = { endpoint, region: REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const batch = await createBatchResources(synth.template, { batch: new BatchClient(config), iam: new IAMClient(config), ec2: new EC2Client(config) });
  await uploadLambdaAssets(synth, s3);
  await awsJsonCall(endpoint, 'ssm', 'AmazonSSM.PutParameter', { Name: '/cdk-bootstrap/hnb659fds/version', Value: '30', Type: 'String', Overwrite: true });

  const template = substituteBatch(synth.template, batch.arns);
  template.Resources = { ...template.Resources, ...extraResources };
  const cloudFormation = new CloudFormationClient(config);
  const stackName = 'SagePipeline';
  await cloudFormation.send(
    new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'] }),
  );
  let status = 'CREATE_IN_PROGRESS';
  for (let i = 0; i < 300 && status.endsWith('IN_PROGRESS'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus ?? 'UNKNOWN';
  }
  if (status !== 'CREATE_COMPLETE') {
    const events = (await cloudFormation.send(new DescribeStackEventsCommand({ StackName: stackName }))).StackEvents ?? [];
    const reasons = events.filter((e) => e.ResourceStatusReason).map((e) => `${e.LogicalResourceId}: ${e.ResourceStatusReason}`);
    throw new Error(`stack ended ${status}:\n${reasons.join('\n')}`);
  }
  const resources = (await cloudFormation.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? [];
  const physicalIds = Object.fromEntries(resources.map((r) => [r.LogicalResourceId!, r.PhysicalResourceId!]));
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const notifications = resource.Properties?.NotificationConfiguration as JsonObject | undefined;
    const eventBridge = notifications?.EventBridgeConfiguration as JsonObject | undefined;
    if (resource.Type !== 'AWS::S3::Bucket' || eventBridge?.EventBridgeEnabled !== true) continue;
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: physicalIds[logicalId], NotificationConfiguration: { EventBridgeConfiguration: {} } }));
  }
  return { stackName, status, physicalIds, batch, template };
}

/** Physical id of the one resource whose logical id starts with `prefix` and has `type`. */
export function physicalIdOf(stack: DeployedStack, type: string, prefix: string): string {
  const matches = Object.entries(stack.template.Resources).filter(([id, r]) => r.Type === type && id.startsWith(prefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${matches.length}`);
  return stack.physicalIds[matches[0]![0]]!;
}
