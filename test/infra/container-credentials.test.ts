/**
 * The container's S3 access through the run's scoped session: with SAGE_RUN_ROLE_ARN set it
 * asks STS for the run role with runSessionPolicy(job) as the session policy (checked with an
 * injected provider factory), and the store then signs with those credentials (checked against
 * moto's STS and S3, when moto_server is installed: moto answers sts:AssumeRole with its own
 * temporary keys).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installRunStore, RUN_SESSION_SECONDS, runSessionName, type RunSessionRequest } from '../../container/run-credentials';
import type { JobSpec } from '../../src/contracts/job';
import { RUN_ROLE_ENV, runSessionPolicy } from '../../src/contracts/run-access';
import { setS3Store, storeFor } from '../../src/storage';
import { emulatorUnavailableReason, startEmulator, type Emulator } from '../integration/moto';

const SPEC: JobSpec = {
  runId: 'cifar-7f3a',
  manifestUri: 's3://data-bucket/manifests/cifar.json',
  resultsUri: 's3://results-bucket/runs/cifar-7f3a/',
  checkpointUri: 's3://artifacts-bucket/checkpoints/cifar-7f3a/',
  cudaCacheUri: 's3://artifacts-bucket/cuda-cache/',
  sweepIndex: 2,
  weightsUri: 's3://artifacts-bucket/weights/clip-vit-b16/',
};
const ROLE = 'arn:aws:iam::123456789012:role/SagePipeline-GpuRunRole';

describe('the run session', () => {
  afterAll(() => setS3Store(undefined));

  it('assumes the run role with the run session policy, and the store uses what STS gave', async () => {
    const requests: RunSessionRequest[] = [];
    const fake = { accessKeyId: 'ASIAFAKERUNSESSION', secretAccessKey: 'secret', sessionToken: 'token', expiration: new Date(Date.now() + 3600_000) };
    const run = installRunStore(SPEC, { [RUN_ROLE_ENV]: ROLE, AWS_REGION: 'eu-west-1' }, (request) => {
      requests.push(request);
      return async () => fake;
    });
    expect(run).not.toBeNull();
    expect(requests).toEqual([{ roleArn: ROLE, policy: JSON.stringify(runSessionPolicy({ ...SPEC, weightsUri: SPEC.weightsUri! })), sessionName: 'sage-cifar-7f3a-2', durationSeconds: RUN_SESSION_SECONDS, region: 'eu-west-1' }]);
    // The policy allows only this run's prefixes (run-access.test.ts checks the document itself).
    expect(JSON.parse(requests[0]!.policy)).toEqual(run!.policy);
    expect(requests[0]!.policy).toContain('arn:aws:s3:::results-bucket/runs/cifar-7f3a/*');
    expect(await run!.store.client.config.credentials()).toMatchObject({ accessKeyId: 'ASIAFAKERUNSESSION' });
    // Every s3:// URI now resolves to that store.
    expect(await storeFor('s3://results-bucket/runs/cifar-7f3a/2/metrics.json')).toBe(run!.store);
  });

  it('keeps the default credentials without a run role, and refuses a role without validated weights', () => {
    setS3Store(undefined);
    expect(installRunStore(SPEC, {})).toBeNull();
    expect(() => installRunStore({ ...SPEC, weightsUri: undefined }, { [RUN_ROLE_ENV]: ROLE }, () => async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }))).toThrow(/names no validated weights \(SAGE_WEIGHTS_URI\)/);
  });

  it('names the session within STS limits', () => {
    expect(runSessionName({ runId: 'a/b c', sweepIndex: 0 })).toBe('sage-a-b-c-0');
    expect(runSessionName({ runId: 'x'.repeat(100), sweepIndex: 3 })).toHaveLength(64);
  });
});

const unavailable = emulatorUnavailableReason();

describe.skipIf(unavailable !== null)('the run session against moto', () => {
  let emulator: Emulator;
  const saved = { ...process.env };

  beforeAll(async () => {
    emulator = await startEmulator();
    Object.assign(process.env, { AWS_ENDPOINT_URL: emulator.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
  }, 60_000);
  afterAll(async () => {
    setS3Store(undefined);
    for (const key of ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    await emulator?.stop();
  });

  it('signs the S3 requests with the assumed role session keys, not the task role keys', async () => {
    const iam = new IAMClient({ region: 'us-east-1', endpoint: emulator.endpoint });
    const role = await iam.send(new CreateRoleCommand({ RoleName: 'run-role', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] }) }));
    const admin = new S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true });
    for (const bucket of ['data-bucket', 'results-bucket', 'artifacts-bucket']) await admin.send(new CreateBucketCommand({ Bucket: bucket }));

    const run = installRunStore(SPEC, { ...process.env, [RUN_ROLE_ENV]: role.Role!.Arn! });
    expect(run).not.toBeNull();
    const signedWith: string[] = [];
    run!.store.client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        const credential = /Credential=([^/]+)\//.exec(headers.authorization ?? '')?.[1];
        if (credential) signedWith.push(credential);
        return next(args);
      },
      { step: 'deserialize', name: 'recordSigningKey' },
    );
    const uri = 's3://results-bucket/runs/cifar-7f3a/2/progress.json';
    await run!.store.put(uri, '{"epoch":1}', { contentType: 'application/json' });
    expect(await (await storeFor(uri)).getText(uri)).toBe('{"epoch":1}');
    const session = await run!.store.client.config.credentials();
    expect(role.Role?.Arn).toBeTruthy();
    expect(session.accessKeyId).not.toBe('testing');
    expect(session.sessionToken).toBeTruthy();
    expect(signedWith.length).toBeGreaterThanOrEqual(2);
    expect(new Set(signedWith)).toEqual(new Set([session.accessKeyId]));
  });
});
