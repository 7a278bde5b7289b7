import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import { resolveSettings } from '../../src/contracts/settings';
import { trainSage } from '../../src/engine';
import { buildSageModel } from '../../src/engine/model';
import { LocalObjectStore } from '../../src/storage';
import { removeLocalTemporaryFiles } from '../../src/trainer/run-job';
import { abortOnTermination, consoleProgress, TrainingLogFile } from '../../src/trainer/progress';
import { MemoryBatchSource, randomClip, syntheticDataset, tempDir } from '../engine/helpers';

let clip: ClipModel;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  ({ clip } = await randomClip({}, 6));
});
afterAll(() => clip.dispose());

/** Collects what is written, as a non-TTY stderr would receive it. */
function fakeStream(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = { isTTY: false, write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

describe('progress reporting', () => {
  it('prints plain step lines with loss, images/s and ETA off a TTY, and writes one JSONL object per step and per epoch', async () => {
    const width = clip.config.vision.hiddenSize;
    const zeroShot = tf.randomNormal([2, width], 0, 1, 'float32', 3) as tf.Tensor2D;
    const model = buildSageModel({ clip, settings: resolveSettings({ method: 'lift', batchSize: 4, epochs: 2 }), classNames: ['cat', 'dog'], zeroShotWeights: zeroShot });
    zeroShot.dispose();
    const { stream, text } = fakeStream();
    const logUri = path.join(await tempDir('log'), 'train.jsonl');
    await trainSage({ model, train: new MemoryBatchSource(syntheticDataset([5, 3], 32, 1), 32), trainCounts: [5, 3], log: await TrainingLogFile.open(new LocalObjectStore(), logUri), progress: consoleProgress(stream, 0) });
    model.dispose();
    const lines = text().trim().split('\n');
    expect(lines[0]).toMatch(/^epoch 1\/2 step 1\/2 loss \d+\.\d{4} lr 1\.000e-2 [\d.]+ img\/s ETA \dh\d\dm\d\ds$/);
    expect(lines.filter((l) => l.startsWith('epoch 2:'))).toHaveLength(1);
    const records = (await readFile(logUri, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; epoch: number; loss: number });
    expect(records.map((r) => r.type)).toEqual(['step', 'step', 'epoch', 'step', 'step', 'epoch']);
    expect(records.every((r) => Number.isFinite(r.loss))).toBe(true);
  });
});

describe('stopping on SIGTERM', () => {
  it('aborts the training signal when the process receives SIGTERM, and removes its handler on dispose', () => {
    const before = process.listenerCount('SIGTERM');
    const stop = abortOnTermination();
    expect(stop.signal.aborted).toBe(false);
    process.emit('SIGTERM', 'SIGTERM');
    expect(stop.signal.aborted).toBe(true);
    stop.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('lets a second signal end the process: its handlers go with the first one', () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const seen: string[] = [];
    const stop = abortOnTermination(['SIGTERM', 'SIGINT'], (signal) => seen.push(signal));
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    process.emit('SIGINT', 'SIGINT');
    expect(stop.signal.aborted).toBe(true);
    expect(seen).toEqual(['SIGINT']);
    expect({ term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') }).toEqual(before);
  });
});

describe('the JSONL training log', () => {
  const step = (epoch: number, n: number) => ({ type: 'step' as const, epoch, step: n, loss: 1, accuracy: 0.5, learningRate: 0.01, imagesPerSecond: 10, seconds: 0.1, time: 't' });
  const epochRecord = (epoch: number) => ({ type: 'epoch' as const, epoch, loss: 1, trainAccuracy: 0.5, learningRate: 0.01, seconds: 1, time: 't' });

  it('continues an existing log, skipping a line cut short, and drops the lines beyond a resume point', async () => {
    const uri = path.join(await tempDir('jsonl'), 'log.jsonl');
    const lines = [step(1, 1), step(1, 2), epochRecord(1), step(2, 1), step(2, 2), step(2, 3)].map((r) => JSON.stringify(r));
    await writeFile(uri, `${lines.join('\n')}\n{"type":"st`);
    const log = await TrainingLogFile.open(new LocalObjectStore(), uri);
    // The newest checkpoint (epoch 2, step 3) was lost; the run resumes from epoch index 1, step 1.
    log.append({ type: 'resume', epoch: 1, step: 1, generation: 'previous', time: 't' });
    log.append(step(2, 2));
    await log.flush();
    const written = (await readFile(uri, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; epoch: number; step?: number });
    expect(written.map((r) => [r.type, r.epoch, r.step])).toEqual([
      ['step', 1, 1],
      ['step', 1, 2],
      ['epoch', 1, undefined],
      ['step', 2, 1],
      ['resume', 1, 1],
      ['step', 2, 2],
    ]);
  });
});

describe('a log line of another shape', () => {
  const step = (epoch: number, n: number) => ({ type: 'step' as const, epoch, step: n, loss: 1, accuracy: 0.5, learningRate: 0.01, imagesPerSecond: 10, seconds: 0.1, time: 't' });
  const epochRecord = (epoch: number) => ({ type: 'epoch' as const, epoch, loss: 1, trainAccuracy: 0.5, learningRate: 0.01, seconds: 1, time: 't' });
  it('is dropped on reopening, as a torn line is, and the records around it are kept whole', async () => {
    const uri = path.join(await tempDir('jsonl-shape'), 'log.jsonl');
    const lines = [JSON.stringify(step(1, 1)), JSON.stringify({ type: 'step', epoch: 'one' }), JSON.stringify({ hello: 'world' }), JSON.stringify(epochRecord(1))];
    await writeFile(uri, `${lines.join('\n')}\n`);
    const log = await TrainingLogFile.open(new LocalObjectStore(), uri);
    await log.flush();
    const written = (await readFile(uri, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written).toEqual([step(1, 1), epochRecord(1)]);
  });
});

describe('stale temporary files in a local checkpoint folder', () => {
  it("removes the *.tmp files the local store's interrupted writes leave, and nothing else", async () => {
    const dir = path.join(await tempDir('stale'), 'ckpt');
    await mkdir(path.join(dir, 'sub.tmp'), { recursive: true });
    await writeFile(path.join(dir, 'state-e1-s0.safetensors.4242.1700000000000.abc123.tmp'), 'half');
    await writeFile(path.join(dir, 'checkpoint.json.tmp'), 'half');
    await writeFile(path.join(dir, 'checkpoint.json'), '{}');
    expect((await removeLocalTemporaryFiles(dir)).sort()).toEqual(['checkpoint.json.tmp', 'state-e1-s0.safetensors.4242.1700000000000.abc123.tmp']);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'sub.tmp']);
    expect(await removeLocalTemporaryFiles(path.join(dir, 'missing'))).toEqual([]);
  });
});
