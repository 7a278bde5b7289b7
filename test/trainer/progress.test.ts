import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import { resolveSettings } from '../../src/contracts/settings';
import { trainSage } from '../../src/engine';
import { buildSageModel } from '../../src/engine/model';
import { LocalObjectStore } from '../../src/storage';
import { abortOnTermination, consoleProgress, JsonlLog } from '../../src/trainer/progress';
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
    await trainSage({ model, train: new MemoryBatchSource(syntheticDataset([5, 3], 32, 1), 32), trainCounts: [5, 3], log: await JsonlLog.open(new LocalObjectStore(), logUri), progress: consoleProgress(stream, 0) });
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
});
