/**
 * The validation Lambda must not read its own disk: a manifest that names local files
 * (`/proc/self/environ` holds a Lambda's credentials) is refused before any store is asked,
 * and nothing of a planted secret (in a local file, in the environment) reaches any document
 * in the results bucket. The reference store here would happily serve local paths (what the
 * function did before), so only the reference policy stands between the manifest and the disk.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createValidateManifestHandler, type ValidateManifestDeps } from '../../functions/validate-manifest/index';
import { loadManifest, ManifestValidationError } from '../../src/manifest';
import { LocalObjectStore, type ObjectInfo, type ObjectStore, type PutOptions, type ReadOptions } from '../../src/storage';
import type { Readable } from 'node:stream';
import { LOCATIONS, MemoryObjectStore, RecordingSubmitter, capturingLog, countingIds, fixedClock, lambdaContext, objectCreatedEvent, uploadManifest, writeDataset } from './helpers';

const FILE_SECRET = 'file-secret-7f3a9c';
const ENV_SECRET = 'env-secret-b41d2e';

/** s3:// from memory, anything else from the local disk; records every local path it is asked for. */
class EitherStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly localTouched: string[] = [];
  private readonly local = new LocalObjectStore();
  constructor(private readonly memory: MemoryObjectStore) {}
  private pick(uri: string): ObjectStore {
    if (uri.startsWith('s3://')) return this.memory;
    this.localTouched.push(uri);
    return this.local;
  }
  get(uri: string, options?: ReadOptions): Promise<Buffer> {
    return this.pick(uri).get(uri, options);
  }
  getText(uri: string, options?: ReadOptions): Promise<string> {
    return this.pick(uri).getText(uri, options);
  }
  getStream(uri: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Readable> {
    return this.pick(uri).getStream(uri, range, options);
  }
  head(uri: string): Promise<ObjectInfo | null> {
    return this.pick(uri).head(uri);
  }
  exists(uri: string): Promise<boolean> {
    return this.pick(uri).exists(uri);
  }
  put(uri: string, body: Buffer | string | Uint8Array, options?: PutOptions): Promise<string> {
    return this.pick(uri).put(uri, body, options);
  }
  putStream(uri: string, body: Readable, options?: Pick<PutOptions, 'contentType'>): Promise<string> {
    return this.pick(uri).putStream(uri, body, options);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.pick(prefix).list(prefix);
  }
  delete(uri: string): Promise<void> {
    return this.pick(uri).delete(uri);
  }
}

let dir: string;
let memory: MemoryObjectStore;
let either: EitherStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'secrets-'));
  // A secret that is a valid list line, a valid JSONL line and a class name, so any reader would pass it on.
  await writeFile(path.join(dir, 'secret.txt'), `${FILE_SECRET}.png 0\n`);
  await writeFile(path.join(dir, 'secret.jsonl'), `${JSON.stringify({ path: `${FILE_SECRET}.png`, label: FILE_SECRET })}\n`);
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ version: 1, format: 'webdataset', shards: [{ uri: `${FILE_SECRET}.tar`, count: 1, classCounts: { '9': 1 } }] }));
  process.env.SAGE_TEST_SECRET = ENV_SECRET;
  memory = new MemoryObjectStore();
  either = new EitherStore(memory);
});

afterEach(async () => {
  delete process.env.SAGE_TEST_SECRET;
  await rm(dir, { recursive: true, force: true });
});

async function everyResultsDocument(): Promise<string> {
  const texts = await Promise.all(memory.keys('s3://results/').map((uri) => memory.getText(uri)));
  return texts.join('\n');
}

describe('references of a manifest uploaded to the data bucket', () => {
  it('never open a local path, and no planted secret reaches the results bucket', async () => {
    const manifest = await writeDataset(memory);
    const hostile = {
      ...manifest,
      images: `${dir}/`,
      train: { list: path.join(dir, 'secret.txt') },
      test: { jsonl: '/proc/self/environ' },
      weights: path.join(dir),
      sweep: [{ seed: 1 }],
    };
    const { key, etag } = await uploadManifest(memory, 'hostile', hostile);
    const shardsToo = await uploadManifest(memory, 'hostile-shards', { ...manifest, train: { shards: path.join(dir, 'index.json') }, test: { jsonl: '../../../proc/self/environ' } });
    const deps: ValidateManifestDeps = {
      locations: LOCATIONS,
      dataStore: memory,
      resultsStore: memory,
      referenceStore: either,
      submitter: new RecordingSubmitter(),
      clock: fixedClock(),
      ids: countingIds(),
    };
    const { log, lines } = capturingLog();
    const handler = createValidateManifestHandler(() => deps, log);

    const first = await handler(objectCreatedEvent('data', key, etag), lambdaContext());
    const second = await handler(objectCreatedEvent('data', shardsToo.key, shardsToo.etag), lambdaContext());

    expect(first.outcome).toBe('rejected');
    expect(second.outcome).toBe('rejected');
    expect(either.localTouched).toEqual([]);
    const documents = await everyResultsDocument();
    expect(documents).toContain('may name only S3 objects');
    expect(documents).toContain('climbs above the root of bucket');
    for (const secret of [FILE_SECRET, ENV_SECRET, 'AWS_SECRET_ACCESS_KEY']) {
      expect(documents).not.toContain(secret);
      expect(JSON.stringify(lines)).not.toContain(secret);
    }
    if (first.outcome === 'rejected') {
      expect(first.problems.map((problem) => problem.path).sort()).toEqual(['images', 'test.jsonl', 'train.list', 'weights']);
    }
  });

  it.skipIf(process.platform !== 'linux')('never read a process environment: a child started with the secret, whose environ the store would serve', async () => {
    // process.env changes made at run time never reach /proc/self/environ, so the environment
    // secret lives in a real process's start-up environment, readable by this user.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { env: { ...process.env, SAGE_TEST_SECRET: ENV_SECRET }, stdio: 'ignore' });
    try {
      const environ = `/proc/${child.pid}/environ`;
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The premise: without the reference policy the store hands the secret over.
      expect((await new LocalObjectStore().get(environ)).toString('utf8')).toContain(ENV_SECRET);
      const manifest = await writeDataset(memory);
      const { key, etag } = await uploadManifest(memory, 'environ', { ...manifest, test: { jsonl: environ }, train: { list: environ } });
      const deps: ValidateManifestDeps = { locations: LOCATIONS, dataStore: memory, resultsStore: memory, referenceStore: either, submitter: new RecordingSubmitter(), clock: fixedClock(), ids: countingIds() };
      const { log, lines } = capturingLog();
      const outcome = await createValidateManifestHandler(() => deps, log)(objectCreatedEvent('data', key, etag), lambdaContext());
      expect(outcome.outcome).toBe('rejected');
      expect(either.localTouched).toEqual([]);
      const documents = await everyResultsDocument();
      expect(documents).toContain('may name only S3 objects');
      expect(documents).not.toContain(ENV_SECRET);
      expect(JSON.stringify(lines)).not.toContain(ENV_SECRET);
    } finally {
      child.kill();
    }
  });

  it('are held to the pipeline roots: another bucket, or the artifacts bucket outside weights/, is refused', async () => {
    const manifest = await writeDataset(memory);
    await memory.put('s3://elsewhere/train.txt', 'train/apple/0.png 0\n');
    const { key, etag } = await uploadManifest(memory, 'other-bucket', { ...manifest, train: { list: 's3://elsewhere/train.txt' }, weights: 's3://artifacts/checkpoints/x/' });
    const deps: ValidateManifestDeps = { locations: LOCATIONS, dataStore: memory, resultsStore: memory, referenceStore: memory, submitter: new RecordingSubmitter(), clock: fixedClock(), ids: countingIds() };
    const outcome = await createValidateManifestHandler(() => deps, capturingLog().log)(objectCreatedEvent('data', key, etag), lambdaContext());
    expect(outcome.outcome).toBe('rejected');
    if (outcome.outcome !== 'rejected') return;
    expect(outcome.problems.map((problem) => [problem.path, problem.message])).toEqual([
      ['weights', 'cannot resolve "s3://artifacts/checkpoints/x/": expected a location under s3://data/ or s3://artifacts/weights/; the pipeline reads nothing else'],
      ['train.list', 'cannot resolve "s3://elsewhere/train.txt": expected a location under s3://data/ or s3://artifacts/weights/; the pipeline reads nothing else'],
    ]);
    expect(memory.reads.has('s3://elsewhere/train.txt')).toBe(false);
  });

  it('refuse `..` segments inside an s3:// key', async () => {
    const manifest = await writeDataset(memory);
    const { key, etag } = await uploadManifest(memory, 'dots', { ...manifest, weights: 's3://artifacts/weights/../checkpoints/' });
    const deps: ValidateManifestDeps = { locations: LOCATIONS, dataStore: memory, resultsStore: memory, referenceStore: memory, submitter: new RecordingSubmitter(), clock: fixedClock(), ids: countingIds() };
    const outcome = await createValidateManifestHandler(() => deps, capturingLog().log)(objectCreatedEvent('data', key, etag), lambdaContext());
    expect(outcome).toMatchObject({ outcome: 'rejected', problems: [{ path: 'weights', message: expect.stringContaining('no ".", ".." or empty segments') }] });
  });
});

describe('the trainer loading a manifest from S3', () => {
  it('refuses local references the same way, quoting nothing read from them', async () => {
    const manifest = await writeDataset(memory);
    await memory.put('s3://data/manifests/job.json', JSON.stringify({ ...manifest, train: { list: path.join(dir, 'secret.txt') } }));
    const error = await loadManifest('s3://data/manifests/job.json', { store: either, checkStorage: false }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ManifestValidationError);
    expect((error as Error).message).toContain('may name only S3 objects');
    expect((error as Error).message).not.toContain(FILE_SECRET);
    expect(either.localTouched).toEqual([]);
  });
});
