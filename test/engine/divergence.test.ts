/** A finite loss that grows by an order of magnitude is flagged: as a warning, in the log, in the result and in metrics.json. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import type { DivergenceState } from '../../src/contracts/checkpoint';
import { MetricsDocument } from '../../src/contracts/metrics';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { buildMetricsDocument, DEFAULT_DIVERGENCE_RULE, evaluate, trainSage, type TrainingLogRecord } from '../../src/engine';
import type { SageModel } from '../../src/engine/model';
import { observeStepLoss } from '../../src/engine/train';
import { LocalObjectStore } from '../../src/storage';
import { MemoryBatchSource, modelWithRandomZeroShot, randomClip, syntheticDataset, tempDir, trainAndStopAfter } from './helpers';

const classNames = ['cat', 'dog', 'car', 'tree'];
const counts = [12, 8, 4, 2];
let clip: ClipModel;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  ({ clip } = await randomClip({ vision: { numLayers: 2, hiddenSize: 32, imageSize: 32, patchSize: 8 } }, 3));
});
afterAll(() => clip.dispose());

function model(overrides: SettingsOverrides): SageModel {
  return modelWithRandomZeroShot(clip, classNames, resolveSettings({ batchSize: 8, epochs: 3, seed: 1, ...overrides }));
}

const trainSource = () => new MemoryBatchSource(syntheticDataset(counts, 32, 5), 32);

describe('the divergence rule', () => {
  it('takes the first step as reference, smooths later losses and flags once, where the smoothed loss passes 10×', () => {
    let state: DivergenceState = { reference: null, smoothed: null, flag: null };
    const losses = [2, 1, 30, 300, 300];
    const flags = losses.map((loss, i) => {
      state = observeStepLoss(state, loss, { epoch: 1, step: i + 1 }, DEFAULT_DIVERGENCE_RULE);
      return state.flag;
    });
    // s = 2 → 0.9·2 + 0.1·1 = 1.9 → 0.9·1.9 + 3 = 4.71 → 0.9·4.71 + 30 = 34.239 > 10·2.
    expect(flags.slice(0, 3)).toEqual([null, null, null]);
    expect(flags[3]).toEqual({ epoch: 1, step: 4, loss: expect.closeTo(34.239, 9) as number, reference: 2, factor: 10 });
    expect(flags[4]).toEqual(flags[3]);
    expect(state.smoothed).toBeCloseTo(0.9 * 34.239 + 30, 9);
  });

  it('never takes a reference below the floor (log C): a nearly right first step does not turn noise into divergence', () => {
    const rule = { ...DEFAULT_DIVERGENCE_RULE, floor: Math.log(3) };
    let state: DivergenceState = { reference: null, smoothed: null, flag: null };
    // An easy split: the first loss is 0.01, later steps wobble around 0.3 (30× the first loss, far below chance's 1.10).
    for (const loss of [0.01, 0.3, 0.5, 0.4, 0.6, 0.3, 0.5, 0.4, 0.6, 0.5]) state = observeStepLoss(state, loss, { epoch: 1, step: 1 }, rule);
    expect(state.reference).toBeCloseTo(Math.log(3), 12);
    expect(state.flag).toBeNull();
    // Without the floor the same losses are flagged: the case the floor is for.
    let unfloored: DivergenceState = { reference: null, smoothed: null, flag: null };
    for (const loss of [0.01, 0.3, 0.5, 0.4, 0.6, 0.3, 0.5, 0.4, 0.6, 0.5]) unfloored = observeStepLoss(unfloored, loss, { epoch: 1, step: 1 }, DEFAULT_DIVERGENCE_RULE);
    expect(unfloored.flag).not.toBeNull();
  });

  it('does not flag a loss that falls or wobbles below the threshold', () => {
    let state: DivergenceState = { reference: null, smoothed: null, flag: null };
    for (const loss of [3, 2.5, 29, 29, 2, 1, 0.5, 25]) state = observeStepLoss(state, loss, { epoch: 1, step: 1 }, DEFAULT_DIVERGENCE_RULE);
    expect(state.flag).toBeNull();
  });
});

describe('a diverging run', () => {
  it('is flagged as a warning, in the log and in metrics.json, keeps training, and flags the same step after a resume', async () => {
    // Sage at learning rate 10: FIT's learnable scales blow the loss up from about 10 to hundreds, staying finite.
    const warnings: string[] = [];
    const records: TrainingLogRecord[] = [];
    const m = model({ method: 'sage', learningRate: 10 });
    const result = await trainSage({
      model: m,
      train: trainSource(),
      trainCounts: counts,
      progress: { step() {}, epoch() {}, message() {}, warning: (text) => warnings.push(text), close() {} },
      log: { append: (r) => records.push(r), flush: async () => {} },
    });
    expect(result.status).toBe('completed');
    expect(result.epochs).toHaveLength(3);
    const flag = result.diverged;
    expect(flag).not.toBeNull();
    expect(flag!.loss).toBeGreaterThan(10 * flag!.reference);
    const firstStep = records.find((r) => r.type === 'step');
    expect(firstStep?.type === 'step' && firstStep.loss).toBe(flag!.reference);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`diverged at epoch ${flag!.epoch}, step ${flag!.step}`));
    const logged = records.filter((r) => r.type === 'warning');
    expect(logged).toEqual([expect.objectContaining({ kind: 'diverged', details: { ...flag } })]);

    const evaluation = await evaluate({ model: m, test: trainSource(), trainCounts: counts, tte: false });
    const doc = buildMetricsDocument({ runId: 'r', datasetName: 'synthetic', settings: m.settings, train: result, evaluation, backend: 'wasm', startedAt: new Date(), finishedAt: new Date() });
    expect(MetricsDocument.parse(JSON.parse(JSON.stringify(doc))).diverged).toEqual(flag);
    m.dispose();

    // Stopped before the flagged step and resumed: the monitor's state travels in the checkpoint.
    const checkpoint = { store: new LocalObjectStore(), uri: await tempDir('diverge') };
    const stopAt = (flag!.epoch - 1) * 4 + flag!.step - 1;
    const first = model({ method: 'sage', learningRate: 10 });
    const stopped = await trainAndStopAfter(stopAt, { model: first, train: trainSource(), trainCounts: counts, checkpoint });
    first.dispose();
    expect(stopped.diverged).toBeNull();
    const second = model({ method: 'sage', learningRate: 10 });
    const resumed = await trainSage({ model: second, train: trainSource(), trainCounts: counts, checkpoint });
    second.dispose();
    expect(resumed.diverged).toEqual(flag);
  });

  it('leaves a run that learns unflagged, and its metrics without the field', async () => {
    const m = model({ method: 'lift', learningRate: 0.05 });
    const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts });
    expect(result.diverged).toBeNull();
    const evaluation = await evaluate({ model: m, test: trainSource(), trainCounts: counts, tte: false });
    const doc = buildMetricsDocument({ runId: 'r', datasetName: 'synthetic', settings: m.settings, train: result, evaluation, backend: 'wasm', startedAt: new Date(), finishedAt: new Date() });
    expect('diverged' in doc).toBe(false);
    m.dispose();
  });
});
