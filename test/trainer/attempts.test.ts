/**
 * A run longer than one attempt, on the local path: with a tiny attempt deadline on a virtual
 * clock (every step takes 10 "seconds"), the run is cut into three attempts, each checkpointing
 * before its deadline and ending "to be continued" (exit 75), with progress.json saying where it
 * stands; the third ends with the same metrics as an uninterrupted run. Also: the automatic
 * micro-batch and the device in metrics.json, and a manifest whose weights changed since
 * validation refused by name.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAINER_EXIT, type JobSpec } from '../../src/contracts/job';
import { MetricsDocument } from '../../src/contracts/metrics';
import { TrainingProgress } from '../../src/contracts/progress';
import { silentProgress, type ProgressReporter } from '../../src/engine';
import { runJob, TrainerSettingsError } from '../../src/trainer';
import { TrainerDeadlineError } from '../../src/trainer/errors';
import { trainerExitCode } from '../../src/trainer/exit-codes';
import { writeTinyClip, writeTinyDataset } from '../cli/fixtures';

const quiet = { progress: silentProgress, log: () => {}, workers: 0 };

/** What must not differ between the cut and the uninterrupted run (timings, dates and the resume point may). */
function outcome(metrics: MetricsDocument) {
  return {
    accuracy: metrics.accuracy,
    perClass: metrics.perClass,
    confusion: metrics.confusion,
    parameters: metrics.parameters,
    epochs: metrics.epochs.map(({ seconds: _seconds, evaluation, ...rest }) => ({ ...rest, ...(evaluation ? { evaluation: { ...evaluation, seconds: 0 } } : {}) })),
    method: metrics.method,
  };
}

describe('a run cut into attempts by its deadline', () => {
  let root: string;
  let manifestUri: string;
  let weights: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-attempts-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
    // 18 training images in batches of 8: 3 steps an epoch, 2 epochs.
    manifestUri = await writeTinyDataset(root, weights, { training: { method: 'sage', epochs: 2, batchSize: 8 } });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function spec(name: string): JobSpec {
    return { runId: name, manifestUri, resultsUri: path.join(root, name, 'results'), checkpointUri: path.join(root, name, 'checkpoints'), sweepIndex: 0 };
  }

  /** A virtual clock that the steps move: 10 s each. */
  function virtualAttempt(): { progress: ProgressReporter; clock: () => number } {
    let now = 0;
    return { progress: { ...silentProgress, step: () => void (now += 10) }, clock: () => now };
  }

  /**
   * Runs `job` in attempts of `attemptSeconds` on fresh virtual clocks until one finishes (at most 4):
   * the errors of the attempts cut short, and progress.json as each of them left it.
   */
  async function inAttempts(job: JobSpec, attemptSeconds: number) {
    const progressUri = path.join(root, job.runId, 'results', '0', 'progress.json');
    const errors: unknown[] = [];
    const seen: TrainingProgress[] = [];
    let result;
    for (let attempt = 1; attempt <= 4 && !result; attempt++) {
      const virtual = virtualAttempt();
      const options = { ...quiet, progress: virtual.progress, attempt: { attemptSeconds, attempt }, deadline: { clock: virtual.clock, startedAt: 0, minMarginSeconds: 0 } };
      try {
        result = await runJob(job, options);
      } catch (error) {
        errors.push(error);
        seen.push(TrainingProgress.parse(JSON.parse(await readFile(progressUri, 'utf8'))));
      }
    }
    return { result, errors, seen, progressUri };
  }

  it('checkpoints before each deadline, exits to be continued twice, and ends with the uninterrupted metrics', async () => {
    const whole = await runJob(spec('whole'), { ...quiet, attempt: {} });
    // 55 s an attempt; the margin is 3 × the slowest step (30 s): three steps fit, then it stops.
    const { result, errors, seen, progressUri } = await inAttempts(spec('cut'), 55);
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TrainerDeadlineError);
      expect(trainerExitCode(error)).toBe(TRAINER_EXIT.toBeContinued);
      expect((error as Error).message).toMatch(/^to be continued: 25 s of the attempt's 55 s left, under the margin of 30 s/);
    }
    // Where the summary shows the run between attempts: 3 steps of epoch 1, then all of epoch 2.
    expect(seen.map(({ epoch, step, epochs, stepsPerEpoch, attempt, runId }) => ({ epoch, step, epochs, stepsPerEpoch, attempt, runId }))).toEqual([
      { epoch: 0, step: 3, epochs: 2, stepsPerEpoch: 3, attempt: 1, runId: 'cut' },
      { epoch: 1, step: 3, epochs: 2, stepsPerEpoch: 3, attempt: 2, runId: 'cut' },
    ]);
    expect(result).toBeDefined();
    expect(outcome(result!.metrics)).toEqual(outcome(whole.metrics));
    expect((result!.metrics.config.engine as { resumedFrom: unknown }).resumedFrom).toEqual({ epoch: 1, step: 3 });
    // The last attempt's checkpoint at the end of epoch 2 is in progress.json too.
    expect(TrainingProgress.parse(JSON.parse(await readFile(progressUri, 'utf8')))).toMatchObject({ epoch: 2, step: 0, attempt: 3 });
    const log = (await readFile(path.join(root, 'cut', 'results', '0', 'log.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(log.filter((r) => r.type === 'step')).toHaveLength(6);
    expect(log.filter((r) => r.type === 'micro-batch')).toHaveLength(3);
  });

  it('stops before an evaluation during training that would cross the deadline, and evaluates first in the next attempt', async () => {
    const evalRoot = path.join(root, 'eval-every');
    const evalManifest = await writeTinyDataset(evalRoot, weights, { training: { method: 'sage', epochs: 2, batchSize: 8, evalEvery: 1 } });
    const evalSpec = (name: string): JobSpec => ({ ...spec(name), manifestUri: evalManifest });
    const whole = await runJob(evalSpec('eval-whole'), { ...quiet, attempt: {} });
    expect(whole.metrics.epochs.map((e) => e.testAccuracy)).toEqual([expect.any(Number), expect.any(Number)]);
    // 65 s an attempt, margin 30 s: the epoch's three steps fit (35 s left), its evaluation of 12 test
    // images (about 10 s at 10 s a step of 8) and the margin do not.
    const { result, errors, seen } = await inAttempts(evalSpec('eval-cut'), 65);
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TrainerDeadlineError);
      expect(trainerExitCode(error)).toBe(TRAINER_EXIT.toBeContinued);
      expect((error as Error).message).toMatch(/^to be continued: the evaluation of 12 test images \(about \d+ s\) and the margin of 30 s do not fit in the 35 s left/);
    }
    // Each stop is after the epoch's last step, before its evaluation.
    expect(seen.map(({ epoch, step }) => ({ epoch, step }))).toEqual([
      { epoch: 0, step: 3 },
      { epoch: 1, step: 3 },
    ]);
    expect(outcome(result!.metrics)).toEqual(outcome(whole.metrics));
    const log = (await readFile(path.join(root, 'eval-cut', 'results', '0', 'log.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(log.filter((r) => r.type === 'step')).toHaveLength(6);
    expect(log.filter((r) => r.type === 'epoch')).toHaveLength(2);
  });

  it("does not ask the deadline for a final evaluation it does not run (the last epoch's test evaluation is the final one)", async () => {
    const oneRoot = path.join(root, 'eval-last');
    const oneManifest = await writeTinyDataset(oneRoot, weights, { training: { method: 'sage', epochs: 1, batchSize: 8, evalEvery: 1 } });
    let now = 0;
    // 10 s a step; the epoch's evaluation and checkpoint take 20 s more: 25 s are left after them, under margin + another evaluation.
    const progress = { ...silentProgress, step: () => void (now += 10), epoch: () => void (now += 20) };
    const result = await runJob({ ...spec('eval-last'), manifestUri: oneManifest }, { ...quiet, progress, attempt: { attemptSeconds: 75, attempt: 1 }, deadline: { clock: () => now, startedAt: 0, minMarginSeconds: 0 } });
    expect(now).toBe(50);
    expect(result.metrics.accuracy.all).toBe(result.metrics.epochs[0]!.testAccuracy);
  });

  it('records the automatic micro-batch and the device in metrics.json', async () => {
    const { metrics } = await runJob(spec('auto'), { ...quiet, attempt: {} });
    const written = MetricsDocument.parse(JSON.parse(await readFile(path.join(root, 'auto', 'results', '0', 'metrics.json'), 'utf8')));
    expect(written.microBatch).toEqual(metrics.microBatch);
    // The tiny model fits the whole batch in the wasm heap many times over.
    expect(metrics.microBatch).toMatchObject({ chosen: 8, reason: 'batch', final: 8, backoffs: [] });
    expect(metrics.microBatch!.detail).toMatch(/memory model: .* GiB fixed \+ \d+ MiB per image; budget .* GiB \(the wasm heap/);
    expect(metrics.device).toMatchObject({ backend: 'wasm', tfjs: { 'tfjs-core': '4.22.0', 'tfjs-backend-wasm': '4.22.0' } });
    expect(metrics.config.microBatchSize).toBeNull();
  });

  it('refuses a manifest whose weights are not the ones validation accepted, naming both', async () => {
    const job = { ...spec('weights'), weightsUri: path.join(root, 'other-clip') };
    const error = await runJob(job, { ...quiet, attempt: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerSettingsError);
    expect((error as Error).message).toContain(`validated with the CLIP weights ${path.join(root, 'other-clip')}, but the manifest now names ${weights}`);
    expect(trainerExitCode(error)).toBe(TRAINER_EXIT.badInput);
    expect(existsSync(path.join(root, 'weights', 'results', '0', 'metrics.json'))).toBe(false);
    // The same folder written with a trailing slash is the same folder.
    await expect(runJob({ ...spec('weights-ok'), weightsUri: `${weights}/` }, { ...quiet, attempt: {}, overrides: { method: 'zero-shot' } })).resolves.toBeDefined();
  });
});
