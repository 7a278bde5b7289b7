/**
 * `sage validate` and `sage submit --dry-run` refuse a run that the job's attempts cannot hold,
 * as the upload Lambda does (processManifestUpload: estimateProblems): the same paths and
 * messages, exit 2, `ok: false` under --json, and never "valid". The budget comes from
 * ./cdk.json (src/cli/budget.ts), so each command runs in a temp folder whose cdk.json has a
 * 40-minute attempt timeout: the g5 types' 35 minutes of start-up plus the 5-minute checkpoint
 * margin leave no time to train in. `submit --dry-run` uploads nothing and reads no stack, but
 * the text it would upload must refer to S3, so its references sit in an S3 emulator (moto).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestProblem } from '../../src/manifest';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tinyClipFiles } from '../helpers/tiny-clip';
import { emulatorUnavailableReason, startEmulator, type Emulator } from '../integration/moto';
import { runSage, writeTinyClip, writeTinyDataset } from './fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sage = runSage;



/** A folder whose cdk.json is the project's with only the attempt timeout lowered, as a user would edit it. */
async function tightFolder(root: string): Promise<string> {
  const project = JSON.parse(await readFile(path.join(repoRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const tight = path.join(root, 'tight');
  await mkdir(tight);
  await writeFile(path.join(tight, 'cdk.json'), JSON.stringify({ ...project, context: { ...project.context, 'sage:jobTimeoutMinutes': 40 } }, null, 2));
  return tight;
}

/** The refusal the estimate gives a run when an attempt leaves no time to train (src/estimate/estimate.ts). */
const NO_TIME = /more than any number of attempts of 40 minutes .*raise sage:jobTimeoutMinutes/;

describe('sage validate refuses a run the estimate does not fit, as the upload Lambda does', () => {
  let root: string;
  let tight: string;
  let roomy: string;
  let sweepManifest: string;
  let singleManifest: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-cli-estimate-'));
    const weights = await writeTinyClip(path.join(root, 'clip'));
    sweepManifest = await writeTinyDataset(path.join(root, 'sweep'), weights, { name: 'tight-sweep', sweep: [{ method: 'lift' }, { method: 'sage' }] });
    singleManifest = await writeTinyDataset(path.join(root, 'single'), weights, { name: 'tight-single' });
    tight = await tightFolder(root);
    roomy = path.join(root, 'roomy');
    await mkdir(roomy);
    await writeFile(path.join(roomy, 'cdk.json'), await readFile(path.join(repoRoot, 'cdk.json'), 'utf8'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('the same manifests pass under the project settings (the refusal below is the budget)', async () => {
    for (const manifest of [sweepManifest, singleManifest]) {
      const result = await sage(['validate', manifest], roomy);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`valid: ${manifest}`);
      expect(result.stdout).toContain(`  estimate (${path.join(roomy, 'cdk.json')})`);
    }
  });

  it('validate --no-check-storage says there is no estimate and why, in text and in JSON, and does not refuse on it', async () => {
    const text = await sage(['validate', singleManifest, '--no-check-storage'], tight);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`valid: ${singleManifest}`);
    expect(text.stdout).toContain("  estimate none: --no-check-storage reads no CLIP config.json, which the estimate's FLOPs per image come from");
    const json = await sage(['validate', singleManifest, '--no-check-storage', '--json'], tight);
    expect(json.code, json.stderr).toBe(0);
    const document = JSON.parse(json.stdout) as { ok: boolean; estimate?: unknown; noEstimate?: string };
    expect(document).toMatchObject({ ok: true, noEstimate: expect.stringContaining('--no-check-storage') });
    expect(document.estimate).toBeUndefined();
  });

  it('validate exits 2 listing each sweep entry at sweep[i], prints the figures and never says valid', async () => {
    const result = await sage(['validate', sweepManifest], tight);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).not.toMatch(/valid/);
    expect(result.stdout).toContain(`estimate (${path.join(tight, 'cdk.json')})`);
    expect(result.stdout).toMatch(/#0 does not fit: /);
    expect(result.stderr).toContain(`the manifest ${sweepManifest} is invalid (2 problems)`);
    expect(result.stderr).toMatch(new RegExp(`^sweep\\[0\\]: the run needs about .*${NO_TIME.source}`, 'm'));
    expect(result.stderr).toMatch(new RegExp(`^sweep\\[1\\]: the run needs about .*${NO_TIME.source}`, 'm'));
  });

  it('validate refuses a run whose one training image does not fit the GPUs the stack may launch, with the figures', async () => {
    // The project's GPU table with every type at 1 GiB: less than the CUDA context and cuDNN's reserve.
    const project = JSON.parse(await readFile(path.join(repoRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
    const gpus = project.context['sage:gpus'] as Record<string, Record<string, unknown>>;
    const small = path.join(root, 'small-gpus');
    await mkdir(small, { recursive: true });
    const tiny = Object.fromEntries(Object.entries(gpus).map(([type, entry]) => [type, { ...entry, memoryGiB: 1 }]));
    await writeFile(path.join(small, 'cdk.json'), JSON.stringify({ ...project, context: { ...project.context, 'sage:gpus': tiny } }, null, 2));
    const result = await sage(['validate', singleManifest], small);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).not.toMatch(/valid/);
    expect(result.stderr).toMatch(/^training: .*one training image needs about [\d.]+ GiB of GPU memory \(weights and state included\), more than g4dn\.xlarge \(T4, 1 GiB\)/m);
    expect(result.stderr).toMatch(/drop them from sage:instanceTypes or use smaller weights/);
  });

  it('validate --json prints ok: false with the problems the Lambda would write', async () => {
    const result = await sage(['validate', singleManifest, '--json'], tight);
    expect(result.code, result.stderr).toBe(2);
    const document = JSON.parse(result.stdout) as { ok: boolean; problems: ManifestProblem[]; estimate: { fits: boolean }; budgetFrom: string };
    expect(document.ok).toBe(false);
    expect(document.estimate.fits).toBe(false);
    expect(document.budgetFrom).toBe(path.join(tight, 'cdk.json'));
    // No sweep: the problem is at `training`, as processManifestUpload's rejection report has it.
    expect(document.problems).toHaveLength(1);
    expect(document.problems[0]).toMatchObject({ path: 'training', code: 'estimate' });
    expect(document.problems[0]!.message).toMatch(NO_TIME);
  });
});

const unavailable = emulatorUnavailableReason();
if (unavailable) console.warn(unavailable);

// --dry-run uploads nothing, but what it would upload must refer to S3 (the Lambda cannot read this
// disk), and validation reads those references: an S3 emulator holds them; no stack is read.
describe.skipIf(unavailable !== null)('sage submit --dry-run refuses as the validation function would', () => {
  let emulator: Emulator;
  let root: string;
  let tight: string;
  let manifest: string;
  let env: NodeJS.ProcessEnv;
  const data = 'refusal-data';

  beforeAll(async () => {
    emulator = await startEmulator();
    // This test's own S3 client need not print the SDK's Node version banner into the test log.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    env = { ...process.env, AWS_ENDPOINT_URL: emulator.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const s3 = new S3Client({ endpoint: emulator.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: data }));
    const clip = tinyClipFiles();
    await s3.send(new PutObjectCommand({ Bucket: data, Key: 'weights/clip/config.json', Body: clip.config }));
    await s3.send(new PutObjectCommand({ Bucket: data, Key: 'weights/clip/model.safetensors', Body: clip.model }));
    for (const split of ['train', 'test']) {
      const index = { version: 1, format: 'webdataset', shards: [{ uri: `${split}-000000.tar`, count: 6, classCounts: { '0': 4, '1': 2 } }] };
      await s3.send(new PutObjectCommand({ Bucket: data, Key: `datasets/pets/${split}/index.json`, Body: JSON.stringify(index) }));
      await s3.send(new PutObjectCommand({ Bucket: data, Key: `datasets/pets/${split}/${split}-000000.tar`, Body: 'tar' }));
    }
    s3.destroy();
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-dry-run-refusal-'));
    tight = await tightFolder(root);
    manifest = path.join(root, 'manifest.json');
    const text = {
      version: 1,
      name: 'dry-run-refusal',
      classes: ['cat', 'dog'],
      train: { shards: `s3://${data}/datasets/pets/train/index.json` },
      test: { shards: `s3://${data}/datasets/pets/test/index.json` },
      weights: `s3://${data}/weights/clip/`,
      sweep: [{ method: 'lift' }, { method: 'sage' }],
    };
    await writeFile(manifest, JSON.stringify(text, null, 2));
  });
  afterAll(async () => {
    await emulator?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('exits 2 with the problems at sweep[i], says it would be refused (never valid), and uploads nothing', async () => {
    const human = await sage(['submit', manifest, '--dry-run'], tight, env);
    expect(human.code, human.stderr).toBe(2);
    expect(human.stderr).toContain(`would be refused: ${manifest}; nothing uploaded (--dry-run)`);
    expect(human.stderr).not.toMatch(/^valid/m);
    expect(human.stdout).toMatch(/#0 does not fit: /);
    expect(human.stderr).toMatch(new RegExp(`^sweep\\[0\\]: .*${NO_TIME.source}`, 'm'));
    expect(human.stderr).toMatch(new RegExp(`^sweep\\[1\\]: .*${NO_TIME.source}`, 'm'));

    const json = await sage(['submit', manifest, '--dry-run', '--json'], tight, env);
    expect(json.code, json.stderr).toBe(2);
    const document = JSON.parse(json.stdout) as { outcome: string; dryRun: boolean; problems: ManifestProblem[] };
    expect(document).toMatchObject({ outcome: 'would-be-refused', dryRun: true });
    expect(document.problems.map((p) => [p.path, p.code])).toEqual([
      ['sweep[0]', 'estimate'],
      ['sweep[1]', 'estimate'],
    ]);
    for (const problem of document.problems) expect(problem.message).toMatch(NO_TIME);

    const s3 = new S3Client({ endpoint: emulator.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: data, Prefix: 'manifests/' }));
    s3.destroy();
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});
