/**
 * End to end on the mini-CLIP (fixtures/mini-clip) and its procedural world: LIFT and Sage,
 * trained a few epochs on a small long-tailed split, both beat zero-shot CLIP on the
 * balanced test split. The split is drawn in the `tungsten` domain (src/procedural/domain.ts):
 * a downstream dataset that looks different from the mini-CLIP's pretraining images, as real
 * datasets differ from CLIP's; on the pretraining domain itself the zero-shot classifier is as
 * good as a linear probe trained on 3,600 images, so there is nothing for fine-tuning to win.
 * Kept small (8 classes, the mini-CLIP's image size) to run in about a minute on 2 cores.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip';
import type { ClipModel, ClipTokenizer } from '../../src/clip/types';
import type { Accuracies } from '../../src/contracts/metrics';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { createSageModel, evaluate, trainSage } from '../../src/engine';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import { CLASS_NAMES } from '../../src/procedural/world';
import type { DomainName } from '../../src/procedural/domain';
import { renderClassImage, STREAM, toClipPixels } from '../../src/procedural/samples';
import { datasetLoss, MemoryBatchSource, tempDir } from './helpers';

const fixture = MINI_CLIP_FIXTURE;
const hasFixture = existsSync(path.join(fixture, 'model.safetensors'));
if (!hasFixture) console.warn(`skipping the mini-CLIP long-tail test: ${fixture} has no model.safetensors (run scripts/make-mini-clip.ts)`);

/**
 * Circles, squares and triangles in several colours: classes the mini-CLIP confuses
 * zero-shot (same shape, different colour), so fine-tuning has room to help.
 * One head (>100), three medium (20-100) and four tail (<20) classes.
 */
const classIndices = [0, 6, 12, 1, 7, 13, 2, 8];
const trainCounts = [110, 45, 30, 20, 12, 8, 5, 3];
// 240 test images: one image is 0.4 points, well below the margins asserted.
const testPerClass = 30;
const domain: DomainName = 'tungsten';
const classNames = classIndices.map((i) => CLASS_NAMES[i]!);

function split(counts: readonly number[], size: number, stream: number, seed: number): { images: Float32Array[]; labels: number[] } {
  const images: Float32Array[] = [];
  const labels: number[] = [];
  counts.forEach((count, label) => {
    for (let i = 0; i < count; i++) {
      images.push(toClipPixels([renderClassImage(classIndices[label]!, i, size, seed, stream, domain)], size));
      labels.push(label);
    }
  });
  return { images, labels };
}

describe.skipIf(!hasFixture)('LIFT and Sage on a long-tailed split of the mini-CLIP’s procedural world', () => {
  let clip: ClipModel;
  let tokenizer: ClipTokenizer;
  let cacheDir: string;
  let size: number;
  const train = () => new MemoryBatchSource(split(trainCounts, size, STREAM.datasetTrain, 11), size);
  const test = () => new MemoryBatchSource(split(classNames.map(() => testPerClass), size, STREAM.datasetTest, 11), size);
  const results: Record<string, Accuracies> = {};

  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => {} });
    clip = await loadClip(fixture);
    tokenizer = await loadClipTokenizer(fixture);
    size = clip.config.vision.imageSize;
    cacheDir = await tempDir('zs-cache');
  });
  afterAll(() => {
    console.log('mini-CLIP long-tail accuracies (all / head / medium / tail):');
    for (const [method, a] of Object.entries(results)) console.log(`  ${method}: ${[a.all, a.head, a.medium, a.tail].map((v) => (v === null ? '-' : (100 * v).toFixed(1))).join(' / ')}`);
    clip?.dispose();
  });

  async function run(overrides: SettingsOverrides): Promise<Accuracies> {
    const settings = resolveSettings({ epochs: 4, batchSize: 32, learningRate: 0.01, seed: 0, tte: false, ...overrides });
    const model = await createSageModel({ clip, tokenizer, classNames, settings, cacheDir });
    await trainSage({ model, train: train(), trainCounts });
    const { accuracy } = await evaluate({ model, test: test(), trainCounts });
    model.dispose();
    return accuracy;
  }

  it('lowers the training loss over one epoch of LIFT', async () => {
    const model = await createSageModel({ clip, tokenizer, classNames, settings: resolveSettings({ method: 'lift', epochs: 1, batchSize: 32, learningRate: 0.01 }), cacheDir });
    const before = await datasetLoss(model, train(), trainCounts);
    await trainSage({ model, train: train(), trainCounts });
    const after = await datasetLoss(model, train(), trainCounts);
    model.dispose();
    expect(after).toBeLessThan(before);
  });

  it('trains LIFT and Sage on the long-tailed split and reports all, head, medium and tail accuracy on the balanced test split', async () => {
    results['zero-shot'] = await run({ method: 'zero-shot', components: { init: true } });
    results.lift = await run({ method: 'lift' });
    results.sage = await run({ method: 'sage' });
    for (const a of Object.values(results)) {
      expect([a.head, a.medium, a.tail].every((v) => v !== null && v >= 0 && v <= 1)).toBe(true);
      expect(a.all).toBeGreaterThan(1 / classNames.length); // above chance
    }
  });

  // Measured on wasm: zero-shot 39.6 %, LIFT 49.6 %, Sage 52.9 %. The 3-point margin asked
  // here is 7 test images, so a pass is not noise.
  it('has LIFT and Sage beat zero-shot CLIP on the balanced test split by more than 3 points', () => {
    const zeroShot = results['zero-shot']!.all;
    expect(results.lift!.all).toBeGreaterThan(zeroShot + 0.03);
    expect(results.sage!.all).toBeGreaterThan(zeroShot + 0.03);
  });
});
