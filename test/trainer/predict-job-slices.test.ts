/**
 * An inference child labels the slice validation planned (issue 15, audit G4). The run record
 * the pipeline writes before the job (planPredictRun's plan, as process-manifest-upload stores
 * it) holds the validated image count; a child that lists a different count (images added to
 * the folder since) stops naming both counts instead of slicing differently. And the shards
 * form end to end: two slices over two shards label their own ranges of the index.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpecFromEnv, JOB_ENV } from '../../src/contracts/job';
import { PredictionRecord } from '../../src/contracts/predictions';
import { ShardWriter } from '../../src/data/shards/writer';
import { validatePredictManifest, type PredictManifest } from '../../src/manifest';
import { planPredictRun } from '../../src/pipeline/run-planner';
import { LocalObjectStore } from '../../src/storage';
import { TrainerSettingsError } from '../../src/trainer/errors';
import { trainerExitCode } from '../../src/trainer/exit-codes';
import { runPredictJob } from '../../src/trainer/predict-job';
import { colourOf, solidPng } from '../data/helpers';
import { tinyAdapterFiles } from '../helpers/tiny-adapter';
import { tinyClipFiles } from '../helpers/tiny-clip';

let dir: string;

async function write(relative: string, body: string | Uint8Array): Promise<string> {
  const file = path.join(dir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, body);
  return file;
}

/** Validates the manifest and stores the run record as the upload Lambda does; resolves to each child's job. */
async function planned(name: string, manifest: PredictManifest): Promise<{ jobs: ReturnType<typeof jobSpecFromEnv>[]; recordUri: string }> {
  const manifestUri = await write(`manifests/${name}.json`, JSON.stringify(manifest));
  const validated = await validatePredictManifest(JSON.stringify(manifest), { manifestUri });
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  const plan = planPredictRun({
    manifestUri,
    manifestEtag: 'etag',
    runId: `run-${name}`,
    locations: { data: dir, results: path.join(dir, 'results'), artifacts: path.join(dir, 'artifacts') },
    submittedAt: '2026-12-03T10:00:00.000Z',
    validated,
  });
  await new LocalObjectStore().put(plan.recordUri, JSON.stringify(plan.record));
  const jobs = Array.from({ length: plan.submission.arraySize }, (_, index) => jobSpecFromEnv({ ...plan.submission.env, [JOB_ENV.arrayIndex]: String(index) }));
  return { jobs, recordUri: plan.recordUri };
}

async function predictionsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => PredictionRecord.parse(JSON.parse(line)).key);
}

beforeAll(async () => {
  process.env.SAGE_DECODE_WORKERS = '0';
  dir = await mkdtemp(path.join(os.tmpdir(), 'predict-slices-'));
  const clip = tinyClipFiles();
  await write('weights/config.json', clip.config);
  await write('weights/model.safetensors', clip.model);
  const adapter = tinyAdapterFiles(['apple', 'bicycle', 'cloud']);
  await write('run/0/adapter.json', adapter.header);
  await write('run/0/adapter.safetensors', adapter.tensors);
});

afterAll(async () => {
  delete process.env.SAGE_DECODE_WORKERS;
  await rm(dir, { recursive: true, force: true });
});

describe('an inference child against the validated count', () => {
  it('stops, naming both counts, when the folder holds more images than validation counted, and writes nothing', async () => {
    for (let i = 0; i < 4; i++) await write(`folder/${i}.png`, await solidPng(colourOf(i)));
    const { jobs, recordUri } = await planned('grown', { version: 1, kind: 'predict', name: 'grown', adapter: '../run/0', weights: '../weights', images: { folder: '../folder' }, sliceSize: 3 });
    expect(jobs).toHaveLength(2);
    // An upload between validation and the job: 5 images now, where slice #1 was planned as 3-4.
    await write('folder/4.png', await solidPng(colourOf(4)));
    for (const job of jobs) {
      const error = await runPredictJob(job, { log: () => {}, workers: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrainerSettingsError);
      expect((error as Error).message).toMatch(/number 5 now, but validation counted 4/);
      expect((error as Error).message).toContain(recordUri);
      expect(trainerExitCode(error)).toBe(2);
    }
    await expect(readFile(path.join(jobs[0]!.resultsUri, '0', 'predictions.jsonl'), 'utf8')).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('stops when the manifest now cuts its slice differently from the plan (sliceSize rewritten), naming both ranges', async () => {
    for (let i = 0; i < 4; i++) await write(`resliced/${i}.png`, await solidPng(colourOf(i)));
    const manifest: PredictManifest = { version: 1, kind: 'predict', name: 'resliced', adapter: '../run/0', weights: '../weights', images: { folder: '../resliced' }, sliceSize: 3 };
    const { jobs } = await planned('resliced', manifest);
    await write('manifests/resliced.json', JSON.stringify({ ...manifest, sliceSize: 2 }));
    const error = await runPredictJob(jobs[1]!, { log: () => {}, workers: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerSettingsError);
    expect((error as Error).message).toMatch(/slice #1 was planned as images 3-4, but the manifest now slices it as 2-4/);
  }, 120_000);

  it('labels each slice of a shard index, as planned, with the keys of its own range', async () => {
    const writer = new ShardWriter({ outUri: path.join(dir, 'shards'), store: new LocalObjectStore(), prefix: 'part', maxShardBytes: 4 * 2048 });
    for (let i = 0; i < 8; i++) await writer.add({ key: `img${i}`, image: await solidPng(colourOf(i), 10, 9), label: 0, extension: 'png' });
    const { index } = await writer.finish();
    expect(index.shards.map((shard) => shard.count)).toEqual([4, 4]);
    const { jobs } = await planned('sharded', { version: 1, kind: 'predict', name: 'sharded', adapter: '../run/0', weights: '../weights', images: { shards: '../shards/index.json' }, sliceSize: 5, topK: 2 });
    expect(jobs).toHaveLength(2);
    const keys: string[][] = [];
    for (const job of jobs) {
      const { summary, files } = await runPredictJob(job, { log: () => {}, workers: 0 });
      keys.push(await predictionsOf(files.predictions));
      expect(summary.images).toBe(keys.at(-1)!.length);
    }
    expect(keys).toEqual([
      ['img0', 'img1', 'img2', 'img3', 'img4'],
      ['img5', 'img6', 'img7'],
    ]);
  }, 120_000);

  it('runs unchecked, and says so, when its run has no record (a job started by hand)', async () => {
    for (let i = 0; i < 2; i++) await write(`loose/${i}.png`, await solidPng(colourOf(i)));
    const manifestUri = await write('manifests/loose.json', JSON.stringify({ version: 1, kind: 'predict', name: 'loose', adapter: '../run/0', weights: '../weights', images: { folder: '../loose' } }));
    const resultsUri = path.join(dir, 'by-hand');
    const lines: string[] = [];
    const { files } = await runPredictJob(jobSpecFromEnv({ SAGE_RUN_ID: 'by-hand', SAGE_MANIFEST_URI: manifestUri, SAGE_RESULTS_URI: resultsUri, SAGE_CHECKPOINT_URI: path.join(resultsUri, 'checkpoints') }), { log: (line) => lines.push(line), workers: 0 });
    expect(await predictionsOf(files.predictions)).toEqual(['0.png', '1.png']);
    expect(lines.join('\n')).toMatch(/no run record at .*run\.json, so the image count is not checked/);
  }, 120_000);
});
