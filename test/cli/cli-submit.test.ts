/**
 * `sage submit` as a person runs it (bin/sage.mjs in a child process) against an S3
 * emulator (moto): no AWS SDK banner on stderr, an unchanged manifest comes back as the
 * earlier run (said so, nothing uploaded), `--rerun` uploads the same bytes under a new name,
 * and `--json` keeps stdout to one JSON document. No Lambda runs here: claims are written by
 * the test, as the validation function would write them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SubmitJson } from '../../src/cli/commands/submit';
import { emulatorUnavailableReason, startEmulator, type Emulator } from '../integration/moto';
import { runNode, type ProcessResult } from './fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(repoRoot, 'bin', 'sage.mjs');
const BANNER = 'NodeVersionSupportWarning';
const run = (args: string[], env: NodeJS.ProcessEnv, cwd: string): ReturnType<typeof runNode> => runNode(args, cwd, env);



const unavailable = emulatorUnavailableReason();
if (unavailable) console.warn(unavailable);

describe.skipIf(unavailable !== null)('sage submit against an S3 emulator', () => {
  let emulator: Emulator;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let s3: S3Client;
  let manifestPath: string;
  const data = 'submit-data';
  const results = 'submit-results';

  beforeAll(async () => {
    emulator = await startEmulator();
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-submit-cli-'));
    env = { ...process.env, AWS_ENDPOINT_URL: emulator.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
    // The switch must come from the CLI itself, not from the test's own environment.
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    // This test's own S3 client need not print the banner into the test log.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    s3 = new S3Client({ endpoint: emulator.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    for (const Bucket of [data, results]) await s3.send(new CreateBucketCommand({ Bucket }));
    manifestPath = path.join(root, 'manifest.json');
    const manifest = {
      version: 1,
      name: 'moto-submit',
      classes: ['cat', 'dog'],
      train: { shards: `s3://${data}/datasets/pets/train/index.json` },
      test: { shards: `s3://${data}/datasets/pets/test/index.json` },
      weights: 's3://artifacts/weights/clip/',
      sweep: [{ method: 'lift' }, { method: 'sage' }],
    };
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
  });
  afterAll(async () => {
    s3?.destroy();
    await emulator?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const submit = (...extra: string[]): Promise<ProcessResult> =>
    run([BIN, 'submit', manifestPath, '--data-bucket', data, '--results-bucket', results, '--no-follow', '--validation-timeout', '1', '--poll', '1', ...extra], env, root);

  async function uploads(): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: data, Prefix: 'manifests/' }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  it('the SDK prints its Node-version banner in a plain Node 20 process (so the check below can fail)', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    const script = "const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3'); await new S3Client({ forcePathStyle: true }).send(new ListBucketsCommand({}));";
    const plain = await run(['--input-type=module', '-e', script], env, repoRoot);
    expect(plain.code, plain.stderr).toBe(0);
    if (major < 22) expect(plain.stderr).toContain(BANNER);
    else expect(plain.stderr).not.toContain(BANNER);
  });

  it('uploads, waits for a verdict that never comes (no Lambda here) and exits 1, with no SDK banner', async () => {
    const result = await submit();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`uploaded s3://${data}/manifests/moto-submit.json (etag `);
    expect(result.stderr).toContain('timed out waiting for the validation');
    expect(result.stderr).not.toContain(BANNER);
    expect(result.stdout).toBe('');
    // The uploaded text carries the manifest as it is (references already in S3).
    const body = await (await s3.send(new GetObjectCommand({ Bucket: data, Key: 'manifests/moto-submit.json' }))).Body!.transformToString();
    expect(JSON.parse(body)).toMatchObject({ name: 'moto-submit', sweep: [{ method: 'lift' }, { method: 'sage' }] });
  });

  it('an unchanged manifest is the earlier run: said so, nothing uploaded, --json one document on stdout', async () => {
    const first = await s3.send(new GetObjectCommand({ Bucket: data, Key: 'manifests/moto-submit.json' }));
    const etag = first.ETag!.replace(/"/g, '');
    const claim = { version: 1, state: 'submitted', manifestUri: `s3://${data}/manifests/moto-submit.json`, etag, claimedAt: '2026-12-01T10:00:00.000Z', runId: 'run-earlier', jobId: 'job-earlier', completedAt: '2026-12-01T10:00:02.000Z' };
    await s3.send(new PutObjectCommand({ Bucket: results, Key: `claims/moto-submit/${etag}.json`, Body: JSON.stringify(claim) }));
    const before = await uploads();

    const human = await submit();
    expect(human.code).toBe(0);
    expect(human.stderr).toContain('already submitted as run run-earlier at 2026-12-01T10:00:00.000Z; --rerun to start a new one');
    expect(human.stderr).not.toContain('uploaded ');
    expect(human.stdout.trim()).toBe('submitted: run run-earlier, Batch job job-earlier');

    const json = await submit('--json');
    expect(json.code).toBe(0);
    const document = JSON.parse(json.stdout) as SubmitJson;
    expect(document).toMatchObject({ outcome: 'submitted', runId: 'run-earlier', jobId: 'job-earlier', manifestName: 'moto-submit', earlier: { runId: 'run-earlier', state: 'submitted', claimedAt: '2026-12-01T10:00:00.000Z' } });
    expect(document.upload).toEqual({ uri: `s3://${data}/manifests/moto-submit.json`, etag, uploadName: 'moto-submit' });
    expect(json.stderr).not.toContain(BANNER);
    expect(await uploads()).toEqual(before);
  });

  it('--dry-run validates what would be uploaded, prints the estimate and uploads nothing; a broken manifest exits 2', async () => {
    const before = await uploads();
    const refused = await submit('--dry-run');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/train\.shards.*index\.json/);
    // Make the references real: shards (their existence is what validation checks) and a tiny CLIP.
    const { tinyClipFiles } = await import('../helpers/tiny-clip');
    await s3.send(new CreateBucketCommand({ Bucket: 'artifacts' })).catch(() => undefined);
    const clip = tinyClipFiles();
    await s3.send(new PutObjectCommand({ Bucket: 'artifacts', Key: 'weights/clip/config.json', Body: clip.config }));
    await s3.send(new PutObjectCommand({ Bucket: 'artifacts', Key: 'weights/clip/model.safetensors', Body: clip.model }));
    for (const split of ['train', 'test']) {
      const index = { version: 1, format: 'webdataset', shards: [{ uri: `${split}-000000.tar`, count: 6, classCounts: { '0': 4, '1': 2 } }] };
      await s3.send(new PutObjectCommand({ Bucket: data, Key: `datasets/pets/${split}/index.json`, Body: JSON.stringify(index) }));
      await s3.send(new PutObjectCommand({ Bucket: data, Key: `datasets/pets/${split}/${split}-000000.tar`, Body: 'tar' }));
    }
    const dry = await submit('--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('nothing uploaded (--dry-run)');
    expect(dry.stdout).toMatch(/#0 lift: [\d.]+ [GTP]FLOP; .* on g4dn\.xlarge \(T4, micro-batch up to \d+\)/);
    expect(dry.stdout).toMatch(/#1 sage: /);
    expect(dry.stdout).toContain('attempts per job:');
    expect(await uploads()).toEqual(before);
  });

  it('--rerun uploads the same bytes under a new name, which is a new claim key', async () => {
    const result = await submit('--rerun');
    expect(result.code).toBe(1); // no Lambda answers here either
    const match = /uploaded s3:\/\/submit-data\/(manifests\/moto-submit\.rerun-\d{8}T\d{6}Z\.json) \(etag/.exec(result.stderr);
    expect(match, result.stderr).not.toBeNull();
    const read = async (Key: string): Promise<string> => (await s3.send(new GetObjectCommand({ Bucket: data, Key }))).Body!.transformToString();
    expect(await read(match![1]!)).toBe(await read('manifests/moto-submit.json'));
    expect(result.stderr).toContain(`claims/moto-submit.rerun-`);
  });

  it('a settings flag changes the uploaded text, so it is a new upload and not the earlier run', async () => {
    const result = await submit('--epochs', '2');
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('already submitted');
    const body = await (await s3.send(new GetObjectCommand({ Bucket: data, Key: 'manifests/moto-submit.json' }))).Body!.transformToString();
    expect((JSON.parse(body) as { sweep: unknown[] }).sweep).toEqual([{ method: 'lift', epochs: 2 }, { method: 'sage', epochs: 2 }]);
  });
});
