/**
 * AWS pipeline benchmarks (`npm run bench -- aws`):
 *  1. The validation handler (Middy path, real S3 event shape) on a manifest that references
 *     100,000 items, against moto_server's S3 and Batch: wall time and peak memory
 *     (targets: under 10 s and 512 MB).
 *  2. Each Lambda bundle's size with the stack's esbuild options (minified ESM, AWS SDK v3
 *     bundled), and with the SDK left to the nodejs22.x runtime (target: under 5 MB).
 * Skips part 1 with a note when moto_server is absent.
 */
import { tinyClipFiles } from '../test/helpers/tiny-clip';
import { BatchClient, CreateComputeEnvironmentCommand, CreateJobQueueCommand, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FUNCTION_BUNDLING } from '../infra/constructs/pipeline-function';
import { repoPath } from '../infra/paths';
import { validateManifest } from '../src/manifest';
import { S3ObjectStore } from '../src/storage/s3';
import type { ObjectInfo } from '../src/storage';
import { emulatorUnavailableReason, startEmulator, useEmulatorEnvironment } from '../test/integration/moto';
import type { BenchReport, BenchRow } from './types';

const ITEMS = 100_000;
const CLASSES = 1000;
const TIME_TARGET_S = 10;
const MEMORY_TARGET_MB = 512;
const BUNDLE_TARGET_MB = 5;

/** Peak RSS while `work` runs, sampled every 20 ms. */
async function measure<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; peakRssMb: number; peakHeapMb: number }> {
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  }, 20);
  const start = performance.now();
  try {
    const result = await work();
    return { result, seconds: (performance.now() - start) / 1000, peakRssMb: peakRss / 2 ** 20, peakHeapMb: peakHeap / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function benchValidation(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const unavailable = emulatorUnavailableReason();
  if (unavailable) return { rows: [], notes: [unavailable] };
  const emulator = await startEmulator();
  try {
    useEmulatorEnvironment(emulator.endpoint);
    const s3 = new S3Client({ forcePathStyle: true });
    for (const bucket of ['data', 'results', 'artifacts']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const batch = new BatchClient({});
    const serviceRole = await new IAMClient({}).send(
      new CreateRoleCommand({ RoleName: 'bench-batch', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }),
    );
    const ce = await batch.send(
      new CreateComputeEnvironmentCommand({ computeEnvironmentName: 'bench', type: 'UNMANAGED', state: 'ENABLED', serviceRole: serviceRole.Role!.Arn! }),
    );
    const queue = await batch.send(
      new CreateJobQueueCommand({ jobQueueName: 'bench', priority: 1, state: 'ENABLED', computeEnvironmentOrder: [{ order: 1, computeEnvironment: ce.computeEnvironmentArn! }] }),
    );
    const definition = await batch.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: 'bench',
        type: 'container',
        containerProperties: { image: 'trainer', resourceRequirements: [{ type: 'VCPU', value: '1' }, { type: 'MEMORY', value: '1024' }] },
        retryStrategy: { attempts: 1 },
      }),
    );

    // 90,000 training and 10,000 test items in JSON Lines files, 1,000 classes.
    const store = new S3ObjectStore();
    const line = (split: string, i: number) => JSON.stringify({ path: `${split}/c${i % CLASSES}/${i}.png`, label: i % CLASSES });
    await store.put('s3://data/lists/train.jsonl', Array.from({ length: 90_000 }, (_, i) => line('train', i)).join('\n'));
    await store.put('s3://data/lists/test.jsonl', Array.from({ length: ITEMS - 90_000 }, (_, i) => line('test', i)).join('\n'));
    const clip = tinyClipFiles();
    await store.put('s3://artifacts/weights/clip/config.json', clip.config);
    await store.put('s3://artifacts/weights/clip/model.safetensors', clip.model);
    const manifest = {
      version: 1,
      name: 'bench-100k',
      classes: Array.from({ length: CLASSES }, (_, i) => `class ${i}`),
      images: 's3://data/images/',
      train: { jsonl: 's3://data/lists/train.jsonl' },
      test: { jsonl: 's3://data/lists/test.jsonl' },
      weights: 's3://artifacts/weights/clip/',
      training: { method: 'sage', epochs: 1 },
    };
    const text = JSON.stringify(manifest);
    // The validator checks a seeded sample of the images; a dry run learns which, so only those are uploaded.
    const sampled: string[] = [];
    const recording = Object.assign(Object.create(store) as S3ObjectStore, {
      head: async (uri: string): Promise<ObjectInfo | null> => {
        if (uri.startsWith('s3://data/images/')) {
          sampled.push(uri);
          return { uri, size: 3, etag: 'x' };
        }
        return store.head(uri);
      },
      exists: async (uri: string): Promise<boolean> => (await recording.head(uri)) !== null,
    });
    await validateManifest(text, { manifestUri: 's3://data/manifests/bench.json', store: recording });
    for (const uri of new Set(sampled)) await store.put(uri, 'png');
    const etag = await store.put('s3://data/manifests/bench.json', text);

    process.env.JOB_QUEUE = queue.jobQueueArn!;
    process.env.JOB_DEFINITION = definition.jobDefinitionArn!;
    process.env.DATA_BUCKET = 'data';
    process.env.RESULTS_BUCKET = 'results';
    process.env.ARTIFACTS_BUCKET = 'artifacts';
    process.env.LOG_LEVEL = 'warn';
    const { handler } = await import('../functions/validate-manifest/index');
    const event = {
      version: '0',
      id: 'bench',
      'detail-type': 'Object Created' as const,
      source: 'aws.s3',
      account: '123456789012',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: ['arn:aws:s3:::data'],
      detail: {
        version: '0' as const,
        bucket: { name: 'data' },
        object: { key: 'manifests/bench.json', size: text.length, etag: etag.replace(/"/g, ''), 'version-id': 'null', sequencer: '0' },
        'request-id': 'R',
        requester: '123456789012',
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject' as const,
      },
    };
    const context = { awsRequestId: 'bench', functionName: 'validate-manifest', getRemainingTimeInMillis: () => 300_000 } as Parameters<typeof handler>[1];
    // Where the time goes: the validator alone, without and with its storage pass.
    const parseOnly = await measure(() => validateManifest(text, { manifestUri: 's3://data/manifests/bench.json', checkStorage: false }));
    const withStorage = await measure(() => validateManifest(text, { manifestUri: 's3://data/manifests/bench.json' }));
    global.gc?.();
    const { result, seconds, peakRssMb, peakHeapMb } = await measure(() => handler(event, context));
    // Fast refusal: a sweep of a million (empty) entries is over the schema's 1,000 and must be refused in about a second.
    const hugeSweep = JSON.stringify({ ...manifest, sweep: Array.from({ length: 1_000_000 }, () => ({})) });
    const refusal = await measure(() => validateManifest(hugeSweep, { manifestUri: 's3://data/manifests/bench.json', checkStorage: false }));
    const rows: BenchRow[] = [
      { case: 'validateManifest refusing a 1,000,000-entry sweep (3 MB)', seconds: Number(refusal.seconds.toFixed(2)), outcome: refusal.result.ok ? 'accepted' : 'refused', 'peak heap MB': Math.round(refusal.peakHeapMb) },
      { case: 'validateManifest, item files only (no existence checks)', seconds: Number(parseOnly.seconds.toFixed(2)), 'peak heap MB': Math.round(parseOnly.peakHeapMb) },
      { case: 'validateManifest, with weights + 1,000 sampled image HEADs', seconds: Number(withStorage.seconds.toFixed(2)), 'peak heap MB': Math.round(withStorage.peakHeapMb) },
      {
        case: `validation handler, ${ITEMS.toLocaleString('en')} items (moto S3 + Batch)`,
        outcome: result.outcome,
        seconds: Number(seconds.toFixed(2)),
        'peak RSS MB': Math.round(peakRssMb),
        'peak heap MB': Math.round(peakHeapMb),
        'images checked': new Set(sampled).size,
      },
    ];
    const notes = [
      `validation: ${seconds.toFixed(2)} s (target < ${TIME_TARGET_S} s: ${seconds < TIME_TARGET_S ? 'met' : 'MISSED'}), ` +
        `peak RSS ${Math.round(peakRssMb)} MB of this process (target < ${MEMORY_TARGET_MB} MB: ${peakRssMb < MEMORY_TARGET_MB ? 'met' : 'MISSED'}); ` +
        'RSS includes the bench harness, so it over-states the Lambda.',
      `of which: reading and checking the 100,000 items ${parseOnly.seconds.toFixed(2)} s; the 1,000 sampled image HEADs against moto ` +
        `${(withStorage.seconds - parseOnly.seconds).toFixed(2)} s (${(((withStorage.seconds - parseOnly.seconds) * 1000) / 1000).toFixed(1)} ms each at 32 in flight: ` +
        'moto answers one request at a time); the rest of the handler (claim, run record, SubmitJob, summary, SDK clients) ' +
        `about ${Math.max(0, seconds - withStorage.seconds).toFixed(2)} s (a difference of two runs, so noisy).`,
    ];
    return { rows, notes };
  } finally {
    await emulator.stop();
  }
}

async function benchBundles(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'lambda-bundles-'));
  const rows: BenchRow[] = [];
  try {
    for (const name of ['validate-manifest', 'aggregate-metrics']) {
      for (const sdk of ['bundled', 'external'] as const) {
        const outfile = path.join(out, `${name}-${sdk}.mjs`);
        await build({
          entryPoints: [repoPath('functions', name, 'index.ts')],
          outfile,
          bundle: true,
          platform: 'node',
          format: 'esm',
          target: FUNCTION_BUNDLING.target,
          minify: FUNCTION_BUNDLING.minify,
          mainFields: FUNCTION_BUNDLING.mainFields,
          banner: { js: FUNCTION_BUNDLING.banner },
          external: sdk === 'bundled' ? FUNCTION_BUNDLING.externalModules : ['@aws-sdk/*', '@smithy/*'],
          logLevel: 'error',
        });
        const megabytes = (await stat(outfile)).size / 2 ** 20;
        rows.push({ case: `${name} bundle, AWS SDK ${sdk}${sdk === 'bundled' ? ' (deployed)' : ' (runtime SDK)'}`, 'size MB': Number(megabytes.toFixed(2)), 'under 5 MB': megabytes < BUNDLE_TARGET_MB });
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return { rows, notes: ['Bundles: esbuild, minified ESM for node22, as the stack builds them; the deployed ones include AWS SDK v3 (pinned, with S3 conditional writes).'] };
}

export async function run(): Promise<BenchReport> {
  const bundles = await benchBundles();
  const validation = await benchValidation();
  return { rows: [...validation.rows, ...bundles.rows], notes: [...validation.notes, ...bundles.notes] };
}
