/**
 * The inference job on a GPU host: it requires the backend the job definition names
 * (SAGE_REQUIRED_BACKEND) as training does, so a broken GPU stops it with exit 3 instead of
 * labelling on the CPU; and without a batch size each pass holds what the device's memory does
 * (five crops an image with TTE), which at ViT-B/16 on wasm is well under the 32-image ceiling
 * (32 × 5 crops aborted the wasm heap in the training benchmark's evaluation).
 */
import { describe, expect, it } from 'vitest';
import type { ClipConfig } from '../../src/clip/types';
import { resolveSettings } from '../../src/contracts/settings';
import { fitEvaluationBatch, gpuTrainingBudget, inferenceBytesPerCrop, wasmTrainingBudget } from '../../src/estimate';
import { TrainerBackendError } from '../../src/trainer/errors';
import { trainerExitCode } from '../../src/trainer/exit-codes';
import { PREDICT_BATCH, predictionBatchPlan, runPredictJob } from '../../src/trainer/predict-job';

const MiB = 2 ** 20;

function config(vision: Pick<ClipConfig['vision'], 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'imageSize' | 'patchSize'>): ClipConfig {
  return {
    vision: { ...vision, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
    text: { hiddenSize: 512, intermediateSize: 2048, numLayers: 12, numHeads: 8, maxPositionEmbeddings: 77, vocabSize: 49408, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', eosTokenId: 49407, bosTokenId: 49406, padTokenId: 1 },
    projectionDim: 512,
    logitScale: 100,
  };
}
const VIT_B16 = config({ hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 16 });
const MINI = config({ hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, imageSize: 36, patchSize: 6 });

function model(clip: ClipConfig, classes: number) {
  return { settings: resolveSettings({ method: 'sage' }), classNames: Array.from({ length: classes }, (_, i) => `class ${i}`), clip: { config: clip } };
}

describe('the inference job', () => {
  it('stops with the backend error (exit 3) when the job requires tensorflow and it does not load', async () => {
    const spec = { kind: 'predict', manifestUri: '/nonexistent/manifest.json', resultsUri: '/nonexistent/results', runId: 'r', sweepIndex: 0 } as unknown as Parameters<typeof runPredictJob>[0];
    const error = await runPredictJob(spec, { attempt: { requiredBackend: 'tensorflow' }, log: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerBackendError);
    expect((error as Error).message).toMatch(/tensorflow/);
    expect(trainerExitCode(error)).toBe(3);
  });

  it('sizes each pass to the device: ViT-B/16 on wasm holds fewer images with TTE than without, both under the ceiling', () => {
    const m = model(VIT_B16, 100);
    const wasm = { backend: 'wasm' as const };
    const withTte = predictionBatchPlan(m, true, wasm).images;
    const without = predictionBatchPlan(m, false, wasm).images;
    // Independently: half of what the wasm heap leaves after the model, over the crops' bytes.
    const room = wasmTrainingBudget(VIT_B16);
    expect(withTte).toBe(Math.min(PREDICT_BATCH, fitEvaluationBatch(VIT_B16, m.settings, 100, room, 5)));
    expect(withTte * 5 * inferenceBytesPerCrop(VIT_B16, m.settings, 100)).toBeLessThan(room / 2);
    expect(withTte).toBeLessThan(PREDICT_BATCH);
    expect(withTte).toBeGreaterThanOrEqual(1);
    expect(without).toBeGreaterThan(withTte);
  });

  it('uses the ceiling where memory is plentiful: a T4 at ViT-B/16 without TTE, the mini-CLIP on wasm', () => {
    const t4 = { backend: 'tensorflow' as const, gpu: { name: 'Tesla T4', memoryMiB: 15360, usedMiB: 0, driver: '535', index: 0 } };
    const plan = predictionBatchPlan(model(VIT_B16, 100), false, t4 as Parameters<typeof predictionBatchPlan>[2]);
    expect(fitEvaluationBatch(VIT_B16, resolveSettings({ method: 'sage' }), 100, gpuTrainingBudget(15360 * MiB), 1)).toBeGreaterThanOrEqual(PREDICT_BATCH);
    expect(plan.images).toBe(PREDICT_BATCH);
    expect(predictionBatchPlan(model(MINI, 24), true, { backend: 'wasm' }).images).toBe(PREDICT_BATCH);
  });
});
