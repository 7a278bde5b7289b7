/**
 * The automatic micro-batch (src/trainer/micro-batch.ts: planMicroBatch, planEvaluationBatch) for a
 * ViT-B/16 run of 100 classes with the default batch of 128, on each device it meets: the wasm heap,
 * a 16 GB T4 with and without other processes' memory, a GPU too small for one image, and a setting
 * that decides. The expected figures are recomputed here from the memory model's parts
 * (floor((budget − fixed) / bytes per image)), and the detail must carry them for the log.
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/contracts/settings';
import { fixedTrainingBytes, gpuTrainingBudget, inferenceBytesPerCrop, trainingBytesPerImage, wasmTrainingBudget } from '../../src/estimate';
import { deviceBudget, planEvaluationBatch, planMicroBatch } from '../../src/trainer';
import { VIT_B16_CONFIG } from '../helpers/vit-b16-config';

const MiB = 2 ** 20;
const VIT = VIT_B16_CONFIG;
const classes = 100;
const t4 = (usedMiB = 0) => ({ backend: 'tensorflow', gpu: { name: 'Tesla T4', memoryMiB: 15_360, usedMiB, driver: '535.104.05' } });

function expectedFit(method: 'lift' | 'sage', budget: number): number {
  const settings = resolveSettings({ method });
  return Math.floor((budget - fixedTrainingBytes(VIT, settings, classes)) / trainingBytesPerImage(VIT, settings, classes));
}

describe('the automatic micro-batch', () => {
  it('takes what the wasm heap holds, fewer than the batch, with the figures', () => {
    const settings = resolveSettings({ method: 'sage' });
    const plan = planMicroBatch(settings, VIT, classes, { backend: 'wasm' });
    expect(plan.reason).toBe('memory-model');
    expect(plan.chosen).toBe(expectedFit('sage', wasmTrainingBudget(VIT)));
    expect(plan.chosen).toBeGreaterThanOrEqual(1);
    expect(plan.chosen).toBeLessThan(settings.batchSize);
    expect(plan.detail).toContain(`${plan.chosen} of the batch's 128 images fit per pass`);
    expect(plan.detail).toContain(`${(trainingBytesPerImage(VIT, settings, classes) / MiB).toFixed(0)} MiB per image`);
    expect(plan.detail).toContain('the wasm heap (4 GiB)');
    expect(plan.warning).toBeUndefined();
  });

  it("takes what a T4's memory holds, less what other processes use", () => {
    for (const method of ['lift', 'sage'] as const) {
      const settings = resolveSettings({ method });
      const idle = planMicroBatch(settings, VIT, classes, t4());
      expect(idle.reason).toBe('memory-model');
      expect(idle.chosen).toBe(expectedFit(method, gpuTrainingBudget(15_360 * MiB)));
      expect(idle.detail).toContain('Tesla T4: 15360 MiB, 0 MiB used by others');
      const shared = planMicroBatch(settings, VIT, classes, t4(6_000));
      expect(shared.chosen).toBe(expectedFit(method, gpuTrainingBudget(15_360 * MiB, 6_000 * MiB)));
      expect(shared.chosen).toBeLessThan(idle.chosen);
    }
    const sage = planMicroBatch(resolveSettings({ method: 'sage' }), VIT, classes, t4());
    expect(sage.chosen).toBeGreaterThanOrEqual(8);
    expect(sage.chosen).toBeLessThan(128);
  });

  it('tries 1 with a warning on a GPU too small for one image, and the whole batch where it fits', () => {
    const settings = resolveSettings({ method: 'sage' });
    const small = planMicroBatch(settings, VIT, classes, { backend: 'tensorflow', gpu: { name: 'tiny', memoryMiB: 1_500, driver: 'x' } });
    expect(small).toMatchObject({ chosen: 1, reason: 'memory-model' });
    expect(small.warning).toMatch(/the memory model says one training image does not fit/);
    const huge = planMicroBatch(resolveSettings({ method: 'lift', batchSize: 16 }), VIT, classes, { backend: 'tensorflow', gpu: { name: 'H200', memoryMiB: 143_771, driver: 'x' } });
    expect(huge).toMatchObject({ chosen: 16, reason: 'batch' });
    expect(planMicroBatch(resolveSettings({ method: 'sage', microBatchSize: 5 }), VIT, classes, t4())).toMatchObject({ chosen: 5, reason: 'set' });
  });

  it('sizes evaluation passes by crops within the same budget, never above the batch', () => {
    const settings = resolveSettings({ method: 'sage' });
    const budget = deviceBudget({ backend: 'wasm' }, VIT).bytes;
    const perCrop = inferenceBytesPerCrop(VIT, settings, classes);
    const plain = planEvaluationBatch(settings, VIT, classes, { backend: 'wasm' }, 1);
    const tte = planEvaluationBatch(settings, VIT, classes, { backend: 'wasm' }, 5);
    // Half the room the fixed tensors leave (src/estimate/memory.ts: fitEvaluationBatch).
    const room = 0.5 * (budget - fixedTrainingBytes(VIT, settings, classes));
    expect(tte.images).toBe(Math.min(128, Math.max(1, Math.floor(room / (perCrop * 5)))));
    expect(plain.images).toBe(Math.min(128, Math.max(1, Math.floor(room / perCrop))));
    expect(tte.images).toBeLessThan(plain.images);
  });
});
