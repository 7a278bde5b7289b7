import { describe, expect, it } from 'vitest';
import { DEFAULT_GPUS, describeEstimate, estimateRun, estimateSweep, evaluationsDuringTraining, passesPerImage, runWork, storedEstimate, textForwardFlops, visionForwardFlops, type AttemptBudget, type TowerShapes } from '../../src/estimate';

const VIT_B16: TowerShapes = {
  vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, imageSize: 224, patchSize: 16 },
  text: { hiddenSize: 512, intermediateSize: 2048, numLayers: 12, maxPositionEmbeddings: 77 },
  projectionDim: 512,
};

/** The same count written out term by term for ViT-B/16 at 224 (197 tokens), independently of the code's helper. */
function vitB16ByHand(): number {
  const t = 197;
  const d = 768;
  const block = 3 * t * d * d + t * d * d + t * t * d + t * t * d + t * d * 3072 + t * 3072 * d; // MACs: qkv, out, QKᵀ, AV, fc1, fc2
  const patch = 196 * (3 * 16 * 16) * d;
  return 2 * (12 * block + patch + d * 512);
}

const SAGE = { method: 'sage' as const, components: { init: true, fit: true }, epochs: 10, tte: true };
const LIFT = { method: 'lift' as const, components: { init: false, fit: false }, epochs: 10, tte: false };

describe('work counted from the config', () => {
  it('gives 35.1 GFLOP per ViT-B/16 image at 224, as written out term by term', () => {
    expect(visionForwardFlops(VIT_B16)).toBe(vitB16ByHand());
    expect(visionForwardFlops(VIT_B16) / 1e9).toBeCloseTo(35.1, 1);
    // A ViT-B/32 has a quarter of the patches: about 4.4 GFLOP.
    expect(visionForwardFlops({ ...VIT_B16, vision: { ...VIT_B16.vision, patchSize: 32 } }) / 1e9).toBeCloseTo(8.8, 1);
  });

  it('counts 2F per LIFT training image, 3F with FIT, F or 2F per test image, five times with TTE', () => {
    expect(passesPerImage(LIFT)).toEqual({ train: 2, test: 1 });
    expect(passesPerImage(SAGE)).toEqual({ train: 3, test: 10 });
    expect(passesPerImage({ ...SAGE, method: 'zero-shot', components: { init: false, fit: false } })).toEqual({ train: 0, test: 5 });
  });

  it('adds the evaluations during training: every evalEvery epochs and after the last, on the val split when given, each image as the final evaluation costs it (FIT twice, TTE five crops)', () => {
    expect([1, 3, 4, 10, 11].map((evalEvery) => evaluationsDuringTraining({ ...LIFT, evalEvery }))).toEqual([10, 4, 3, 1, 1]);
    expect(evaluationsDuringTraining({ ...LIFT, evalEvery: 0 })).toBe(0);
    expect(evaluationsDuringTraining({ ...SAGE, method: 'zero-shot', evalEvery: 1 })).toBe(0);
    const F = visionForwardFlops(VIT_B16);
    const counts = { trainImages: 10_847, testImages: 10_000, classes: 100, evalImages: 2_000 };
    // 10 epochs, every 3: after epochs 3, 6, 9 and 10.
    // Sage with TTE: 2 passes (FIT) × 5 crops, as engine/train.ts evaluates with the model's settings.
    expect(runWork(VIT_B16, { ...SAGE, evalEvery: 3 }, counts).evalFlops).toBe(4 * 2_000 * 2 * 5 * F);
    expect(runWork(VIT_B16, { ...SAGE, tte: false, evalEvery: 3 }, counts).evalFlops).toBe(4 * 2_000 * 2 * F);
    expect(runWork(VIT_B16, { ...LIFT, evalEvery: 3 }, { ...counts, evalImages: undefined }).evalFlops).toBe(4 * 10_000 * F);
    const without = runWork(VIT_B16, SAGE, counts);
    expect(without.evalFlops).toBe(0);
    expect(runWork(VIT_B16, { ...SAGE, evalEvery: 3 }, counts).totalFlops - without.totalFlops).toBe(4 * 2_000 * 2 * 5 * F);
  });

  it('adds the text classifier: classes × 60 templates with Init, × 1 without', () => {
    const counts = { trainImages: 10_847, testImages: 10_000, classes: 100 };
    const sage = runWork(VIT_B16, SAGE, counts);
    const F = visionForwardFlops(VIT_B16);
    expect(sage.trainFlops).toBe(10_847 * 10 * 3 * F);
    expect(sage.testFlops).toBe(10_000 * 10 * F);
    expect(sage.textFlops).toBe(100 * 60 * textForwardFlops(VIT_B16));
    expect(runWork(VIT_B16, LIFT, counts).textFlops).toBe(100 * textForwardFlops(VIT_B16));
  });
});

const budget = (overrides: Partial<AttemptBudget> = {}): AttemptBudget => ({
  instanceTypes: ['g4dn.xlarge', 'g5.xlarge'],
  gpus: DEFAULT_GPUS,
  jobTimeoutMinutes: 720,
  spotRetries: 3,
  maxAttempts: 10,
  ...overrides,
});

describe('hours, cost and attempts', () => {
  it('prices CIFAR-100-LT Sage from the table: hours = FLOPs / (peak × efficiency) plus start-up', () => {
    const estimate = estimateRun(VIT_B16, SAGE, { trainImages: 10_847, testImages: 10_000, classes: 100 }, budget());
    const t4 = estimate.byInstance.find((e) => e.instanceType === 'g4dn.xlarge')!;
    const expectedHours = estimate.work.totalFlops / (8.1e12 * 0.3) / 3600 + 5 / 60;
    expect(t4.hours).toBeCloseTo(expectedHours, 6);
    expect(t4.onDemandUsd).toBeCloseTo(expectedHours * 0.526, 6);
    expect(t4.attempts).toBe(1 + 3);
    expect(estimate.worst.instanceType).toBe('g4dn.xlarge');
    expect(estimate.fits).toBe(true);
  });

  it('gives a run longer than one attempt the attempts it needs, and refuses one that cannot fit, naming the settings', () => {
    // iNaturalist 2018: 437,513 training images, 20 epochs, 8,142 classes.
    const inat = { ...SAGE, epochs: 20 };
    const counts = { trainImages: 437_513, testImages: 24_426, classes: 8142 };
    const estimate = estimateRun(VIT_B16, inat, counts, budget({ jobTimeoutMinutes: 14 * 24 * 60 }));
    const t4 = estimate.byInstance.find((e) => e.instanceType === 'g4dn.xlarge')!;
    expect(t4.hours).toBeGreaterThan(100);
    const usable = 14 * 24 * 60 - 5 - 5; // timeout less start-up and checkpoint margin
    const computeMinutes = estimate.work.totalFlops / (8.1e12 * 0.3) / 60;
    expect(t4.attempts).toBe(Math.ceil(computeMinutes / usable) + 3);
    expect(t4.hours).toBeCloseTo((computeMinutes + 5 * Math.ceil(computeMinutes / usable)) / 60, 6);
    const tight = estimateRun(VIT_B16, inat, counts, budget({ jobTimeoutMinutes: 720 }));
    expect(tight.fits).toBe(false);
    expect(tight.problem).toMatch(/raise sage:jobTimeoutMinutes \(or sage:jobAttempts, at most 10\)/);
  });

  it('refuses an instance type the table does not know', () => {
    expect(() => estimateRun(VIT_B16, SAGE, { trainImages: 1, testImages: 1, classes: 2 }, budget({ instanceTypes: ['p9.mega'] }))).toThrow(/no throughput for instance type p9.mega/);
  });
});

describe('GPU memory in the estimate', () => {
  it('gives each instance type the micro-batch its GPU holds, and ViT-B/16 Sage fits a T4', () => {
    const estimate = estimateRun(VIT_B16, { ...SAGE, components: { ...SAGE.components, sg: true } }, { trainImages: 10_847, testImages: 10_000, classes: 100 }, budget());
    const t4 = estimate.byInstance.find((e) => e.instanceType === 'g4dn.xlarge')!;
    const a10g = estimate.byInstance.find((e) => e.instanceType === 'g5.xlarge')!;
    expect(t4.microBatch).toBeGreaterThanOrEqual(1);
    // 24 GiB hold more images than 16 GiB.
    expect(a10g.microBatch).toBeGreaterThan(t4.microBatch);
    expect(estimate.fits).toBe(true);
  });

  it('refuses a run that cannot hold one training image on a GPU the queue may pick, naming the type and the setting', () => {
    const tiny = { ...DEFAULT_GPUS['g4dn.xlarge']!, memoryGiB: 1.5 };
    const estimate = estimateRun(VIT_B16, SAGE, { trainImages: 100, testImages: 100, classes: 100 }, budget({ instanceTypes: ['g4dn.xlarge', 'p0.tiny'], gpus: { ...DEFAULT_GPUS, 'p0.tiny': tiny } }));
    expect(estimate.fits).toBe(false);
    expect(estimate.problem).toMatch(/^one training image needs about [\d.]+ GiB of GPU memory \(weights and state included\), more than p0\.tiny \(T4, 1\.5 GiB\) holds: drop it from sage:instanceTypes/);
  });
});

describe('GPUs per job (sage:jobGpus)', () => {
  const counts = { trainImages: 10_847, testImages: 10_000, classes: 100 };
  const fourGpus = (jobGpus: number) => budget({ instanceTypes: ['g5.12xlarge'], jobGpus });

  it('divides the compute, not the start-up, by 1 + 0.9 per extra GPU: 3.7× on four, by hand', () => {
    const one = estimateRun(VIT_B16, SAGE, counts, fourGpus(1)).byInstance[0]!;
    const four = estimateRun(VIT_B16, SAGE, counts, fourGpus(4)).byInstance[0]!;
    const computeHoursOnOne = runWork(VIT_B16, SAGE, counts).totalFlops / (31.2e12 * 0.3) / 3600;
    // g5.12xlarge: A10G, 31.2 TFLOP/s at 0.30, 35 minutes' start-up, $5.672 an hour.
    expect(one.gpus).toBe(1);
    expect(one.hours).toBeCloseTo(computeHoursOnOne + 35 / 60, 9);
    expect(four.gpus).toBe(4);
    expect(four.hours).toBeCloseTo(computeHoursOnOne / 3.7 + 35 / 60, 9);
    expect(four.onDemandUsd).toBeCloseTo((computeHoursOnOne / 3.7 + 35 / 60) * 5.672, 9);
    // Without the setting a budget means one GPU, as before it existed.
    const { jobGpus: _unset, ...legacy } = fourGpus(1);
    expect(estimateRun(VIT_B16, SAGE, counts, legacy).byInstance[0]!.hours).toBe(one.hours);
    expect(describeEstimate(estimateRun(VIT_B16, SAGE, counts, fourGpus(4)))).toContain('on g5.12xlarge (4 × A10G, micro-batch up to');
  });

  it('uses the GPUs the job asks for, not all the type has: two of four give 1.9×', () => {
    const two = estimateRun(VIT_B16, SAGE, counts, fourGpus(2)).byInstance[0]!;
    const computeHoursOnOne = runWork(VIT_B16, SAGE, counts).totalFlops / (31.2e12 * 0.3) / 3600;
    expect(two.gpus).toBe(2);
    expect(two.hours).toBeCloseTo(computeHoursOnOne / 1.9 + 35 / 60, 9);
  });

  it('lets a long run need fewer attempts on four GPUs (iNaturalist 2018, 20 epochs: about 28 compute hours on one A10G)', () => {
    const inat = { ...SAGE, epochs: 20 };
    const inatCounts = { trainImages: 437_513, testImages: 24_426, classes: 8142 };
    const long = (jobGpus: number) => estimateRun(VIT_B16, inat, inatCounts, budget({ instanceTypes: ['g5.12xlarge'], jobGpus, jobTimeoutMinutes: 720 })).byInstance[0]!;
    const computeMinutes = runWork(VIT_B16, inat, inatCounts).totalFlops / (31.2e12 * 0.3) / 60;
    const usable = 720 - 35 - 5;
    expect(long(1).attempts).toBe(Math.ceil(computeMinutes / usable) + 3);
    expect(long(4).attempts).toBe(Math.ceil(computeMinutes / 3.7 / usable) + 3);
    expect([long(1).attempts, long(4).attempts]).toEqual([3 + 3, 1 + 3]);
  });

  it('refuses a run when a type the queue may pick has fewer GPUs than the job asks for, naming the type and the setting', () => {
    const estimate = estimateRun(VIT_B16, SAGE, counts, budget({ instanceTypes: ['g5.12xlarge', 'g4dn.xlarge', 'g5.xlarge'], jobGpus: 4 }));
    expect(estimate.fits).toBe(false);
    expect(estimate.problem).toBe('the job asks for 4 GPUs (sage:jobGpus), more than g4dn.xlarge (1 × T4), g5.xlarge (1 × A10G) has: drop them from sage:instanceTypes or lower sage:jobGpus');
    // Each type is still priced with the GPUs it has.
    expect(estimate.byInstance.map((e) => e.gpus)).toEqual([4, 1, 1]);
    const sweep = estimateSweep(VIT_B16, [{ ...SAGE, sweepIndex: 0, label: 'sage' }], counts, budget({ instanceTypes: ['g5.12xlarge', 'g4dn.xlarge'], jobGpus: 4 }));
    expect(sweep.fits).toBe(false);
    expect(sweep.problems[0]!.message).toMatch(/more than g4dn\.xlarge \(1 × T4\) has: drop it from sage:instanceTypes or lower sage:jobGpus$/);
    // The stored form keeps its schema's fields.
    expect(Object.keys(storedEstimate(sweep).entries[0]!.byInstance[0]!)).not.toContain('gpus');
    // Four GPUs on a four-GPU type fit.
    expect(estimateRun(VIT_B16, SAGE, counts, fourGpus(4)).fits).toBe(true);
  });
});
