/**
 * Checkpoints that cannot block a job: a corrupt or truncated header is reported with its file
 * name, the previous generation takes over, and with neither training starts afresh with a
 * warning. Resuming from the older generation redoes its steps deterministically, so every
 * path ends with the weights of an uninterrupted run.
 */
import { cp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import { CheckpointHeader } from '../../src/contracts/checkpoint';
import { resolveSettings } from '../../src/contracts/settings';
import { EngineCheckpointError, readCheckpointHeader, trainSage, type ProgressReporter, type TrainingLog, type TrainingLogRecord } from '../../src/engine';
import type { SageModel } from '../../src/engine/model';
import { LocalObjectStore } from '../../src/storage';
import { MemoryObjectStore } from '../../src/storage/memory';
import { MemoryBatchSource, modelWithRandomZeroShot, randomClip, snapshot, syntheticDataset, tempDir, trainAndStopAfter } from './helpers';

const local = new LocalObjectStore();
const classNames = ['cat', 'dog', 'car', 'tree'];
const counts = [12, 8, 4, 2];
let clip: ClipModel;
/** Weights and epoch losses of the uninterrupted 3-epoch run. */
let expected: { weights: Record<string, number[]>; losses: number[] };
/** A checkpoint folder of a run stopped at epoch 2, step 2: latest (1, 2), previous (1, 0). */
let stoppedDir: string;

function model(): SageModel {
  return modelWithRandomZeroShot(clip, classNames, resolveSettings({ method: 'sage', batchSize: 8, epochs: 3, learningRate: 0.05, seed: 1 }));
}

const trainSource = () => new MemoryBatchSource(syntheticDataset(counts, 32, 5), 32);

/** Collects the warnings (progress) and the log records of a run. */
function recorders(): { progress: ProgressReporter; log: TrainingLog; warnings: string[]; records: TrainingLogRecord[] } {
  const warnings: string[] = [];
  const records: TrainingLogRecord[] = [];
  return {
    progress: { step() {}, epoch() {}, message() {}, warning: (text) => warnings.push(text), close() {} },
    log: { append: (record) => records.push(record), flush: async () => {} },
    warnings,
    records,
  };
}

async function resumeFrom(dir: string): Promise<{ result: Awaited<ReturnType<typeof trainSage>>; weights: Record<string, number[]>; warnings: string[]; records: TrainingLogRecord[] }> {
  const m = model();
  const { progress, log, warnings, records } = recorders();
  const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, checkpoint: { store: local, uri: dir }, progress, log });
  const weights = snapshot(m.trainableVariables());
  m.dispose();
  return { result, weights, warnings, records };
}

async function copyOfStopped(name: string): Promise<string> {
  const dir = path.join(await tempDir(name), 'ckpt');
  await cp(stoppedDir, dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  ({ clip } = await randomClip({ vision: { numLayers: 2, hiddenSize: 32, imageSize: 32, patchSize: 8 } }, 3));
  const uninterrupted = model();
  const full = await trainSage({ model: uninterrupted, train: trainSource(), trainCounts: counts });
  expected = { weights: snapshot(uninterrupted.trainableVariables()), losses: full.epochs.map((e) => e.loss) };
  uninterrupted.dispose();

  stoppedDir = await tempDir('stopped');
  const first = model();
  // 4 steps an epoch: stop after the second step of epoch 2.
  await trainAndStopAfter(6, { model: first, train: trainSource(), trainCounts: counts, checkpoint: { store: local, uri: stoppedDir } });
  first.dispose();
});
afterAll(() => clip.dispose());

describe('checkpoint generations', () => {
  it('keeps two generations, each header naming its own state file, and no other state file', async () => {
    const latest = await readCheckpointHeader({ store: local, uri: stoppedDir });
    const previous = await readCheckpointHeader({ store: local, uri: stoppedDir }, 'previous');
    expect(latest?.position).toMatchObject({ epoch: 1, step: 2 });
    expect(previous?.position).toMatchObject({ epoch: 1, step: 0 });
    expect((await readdir(stoppedDir)).sort()).toEqual(['checkpoint.json', 'checkpoint.previous.json', 'state-e1-s0.safetensors', 'state-e1-s2.safetensors']);
    // The header on disk is exactly the schema, with the state file's SHA-256.
    const raw = JSON.parse(await readFile(path.join(stoppedDir, 'checkpoint.json'), 'utf8')) as unknown;
    expect(CheckpointHeader.parse(raw).stateSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports a truncated header with its file name instead of a bare SyntaxError', async () => {
    const dir = await copyOfStopped('truncated');
    const file = path.join(dir, 'checkpoint.json');
    await truncate(file, 40);
    const error = await readCheckpointHeader({ store: local, uri: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineCheckpointError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/not valid JSON \(40 bytes; truncated or corrupt\?\)/);
  });

  it('reports a header that is JSON but not a checkpoint, naming the fields at fault', async () => {
    const dir = await copyOfStopped('schema');
    const file = path.join(dir, 'checkpoint.json');
    const header = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...header, stateFile: '../elsewhere.bin', optimizerIterations: -1 }));
    await expect(readCheckpointHeader({ store: local, uri: dir })).rejects.toThrow(/checkpoint\.json does not match the sage-checkpoint schema: stateFile: .*optimizerIterations/);
  });

  it('falls back to the previous generation when the newest header is truncated, and ends as an uninterrupted run', async () => {
    const dir = await copyOfStopped('fallback-header');
    await truncate(path.join(dir, 'checkpoint.json'), 100);
    const { result, weights, warnings, records } = await resumeFrom(dir);
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 0 });
    expect(warnings[0]).toMatch(/checkpoint\.json is not valid JSON.*trying the previous generation/);
    expect(records.filter((r) => r.type === 'warning').map((r) => r.type === 'warning' && r.kind)).toEqual(['checkpoint-unusable']);
    expect(records.find((r) => r.type === 'resume')).toMatchObject({ epoch: 1, step: 0, generation: 'previous' });
    expect(weights).toEqual(expected.weights);
    expect(result.epochs.map((e) => e.loss)).toEqual(expected.losses);
    // The generation resumed from stayed the previous one until a newer good one replaced it.
    expect((await readCheckpointHeader({ store: local, uri: dir }, 'previous'))?.position).toMatchObject({ epoch: 2, step: 0 });
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'checkpoint.previous.json', 'state-e2-s0.safetensors', 'state-e3-s0.safetensors']);
  });

  it('falls back when the newest state file was altered (its SHA-256 no longer matches)', async () => {
    const dir = await copyOfStopped('fallback-state');
    const file = path.join(dir, 'state-e1-s2.safetensors');
    const bytes = await readFile(file);
    bytes[bytes.length - 3] ^= 0xff; // one tensor value: the file still parses
    await writeFile(file, bytes);
    const { result, weights, warnings } = await resumeFrom(dir);
    expect(warnings[0]).toMatch(/state-e1-s2\.safetensors has changed since it was written/);
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 0 });
    expect(weights).toEqual(expected.weights);
  });

  it('starts afresh with a warning when both generations are unusable, and still ends as an uninterrupted run', async () => {
    const dir = await copyOfStopped('both');
    await truncate(path.join(dir, 'checkpoint.json'), 10);
    await truncate(path.join(dir, 'state-e1-s0.safetensors'), 16);
    const { result, weights, warnings, records } = await resumeFrom(dir);
    expect(result.resumedFrom).toBeNull();
    expect(warnings).toHaveLength(3);
    expect(warnings[1]).toMatch(/cannot read tensors from .*state-e1-s0\.safetensors/);
    expect(warnings[2]).toMatch(/no usable checkpoint in .*checkpoint\.json, checkpoint\.previous\.json unusable.*starts afresh/);
    expect(records.filter((r) => r.type === 'warning').map((r) => r.type === 'warning' && r.kind)).toEqual(['checkpoint-unusable', 'checkpoint-unusable', 'checkpoint-fresh-start']);
    expect(weights).toEqual(expected.weights);
    expect(result.epochs.map((e) => e.loss)).toEqual(expected.losses);
  });

  it('removes stale *.tmp files at the start and says so', async () => {
    const dir = await copyOfStopped('tmp');
    await writeFile(path.join(dir, 'state-e1-s4.safetensors.tmp'), 'half a file');
    const { warnings, result } = await resumeFrom(dir);
    expect(warnings[0]).toMatch(/removed 1 half-written file\(s\) from .*: state-e1-s4\.safetensors\.tmp/);
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 2 });
    expect((await readdir(dir)).some((name) => name.endsWith('.tmp'))).toBe(false);
  });

  it('works on any ObjectStore it is given: a checkpoint in memory resumes like one on disk', async () => {
    const store = new MemoryObjectStore();
    const folder = { store, uri: 's3://bucket/checkpoints/run/0/' };
    const first = model();
    const stopped = await trainAndStopAfter(3, { model: first, train: trainSource(), trainCounts: counts, checkpoint: folder });
    first.dispose();
    expect(stopped.status).toBe('stopped');
    expect(store.keys('s3://bucket/checkpoints/run/0/')).toEqual(['s3://bucket/checkpoints/run/0/checkpoint.json', 's3://bucket/checkpoints/run/0/state-e0-s3.safetensors']);
    const second = model();
    const resumed = await trainSage({ model: second, train: trainSource(), trainCounts: counts, checkpoint: folder });
    expect(resumed.resumedFrom).toEqual({ epoch: 0, step: 3 });
    expect(snapshot(second.trainableVariables())).toEqual(expected.weights);
    second.dispose();
  });
});
