/** runJob end to end on a tiny random CLIP and a procedural dataset: files, layout, resume, errors. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsDocument } from '../../src/contracts/metrics';
import type { JobSpec } from '../../src/contracts/job';
import { silentProgress } from '../../src/engine';
import { ManifestValidationError } from '../../src/manifest';
import { runJob, TrainerSettingsError, TrainerStoppedError } from '../../src/trainer';
import { writeTinyClip, writeTinyDataset } from '../cli/fixtures';

const quiet = { progress: silentProgress, log: () => {}, workers: 0 };

describe('runJob', () => {
  let root: string;
  let manifestUri: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-trainer-'));
    const weights = await writeTinyClip(path.join(root, 'clip'));
    manifestUri = await writeTinyDataset(root, weights, { sweep: [{ method: 'zero-shot' }, { method: 'lift' }, { method: 'sage', epochs: 2 }] });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function spec(name: string, sweepIndex: number): JobSpec {
    return { runId: name, manifestUri, resultsUri: path.join(root, name, 'results'), checkpointUri: path.join(root, name, 'checkpoints'), sweepIndex };
  }

  it('trains the sweep entry it is given and writes metrics, log and adapter under <results>/<index>/', async () => {
    const { metrics, locations } = await runJob(spec('lift', 1), quiet);
    const dir = path.join(root, 'lift', 'results', '1');
    expect(locations.metricsUri).toBe(path.join(dir, 'metrics.json'));
    const written = MetricsDocument.parse(JSON.parse(await readFile(locations.metricsUri, 'utf8')));
    expect(written).toEqual(metrics);
    expect(written).toMatchObject({ runId: 'lift', sweepIndex: 1, method: 'lift', dataset: { name: 'tiny', numClasses: 4, testCount: 12 } });
    expect(written.epochs).toHaveLength(1);
    expect(written.parameters.adapters).toBeGreaterThan(0);
    // Training counts 8, 5, 3, 2 (floor(8·4^(-i/3))), each class 3 test images.
    expect(written.perClass.map((c) => c.trainCount)).toEqual([8, 5, 3, 2]);
    let correct = 0;
    for (const c of written.perClass) correct += (c.accuracy ?? 0) * c.testCount;
    expect(written.accuracy.all).toBeCloseTo(correct / 12, 6);
    const log = (await readFile(path.join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(log.filter((l) => l.type === 'epoch')).toHaveLength(1);
    expect(existsSync(path.join(dir, 'adapter.safetensors'))).toBe(true);
    expect(JSON.parse(await readFile(path.join(dir, 'adapter.json'), 'utf8'))).toMatchObject({ format: 'sage-adapter', classNames: ['red circle', 'green square', 'blue triangle', 'yellow star'] });
  });

  it('evaluates zero-shot CLIP without training', async () => {
    const { metrics } = await runJob(spec('zs', 0), quiet);
    expect(metrics.method).toBe('zero-shot');
    expect(metrics.epochs).toEqual([]);
    expect(metrics.parameters.adapters).toBe(0);
  });

  it('stops with a checkpoint when aborted, and the next attempt resumes from it', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(runJob(spec('resume', 2), { ...quiet, signal: stop.signal })).rejects.toBeInstanceOf(TrainerStoppedError);
    expect(existsSync(path.join(root, 'resume', 'checkpoints', '2', 'checkpoint.json'))).toBe(true);
    expect(existsSync(path.join(root, 'resume', 'results', '2', 'metrics.json'))).toBe(false);

    const { metrics } = await runJob(spec('resume', 2), quiet);
    expect(metrics.method).toBe('sage');
    expect(metrics.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect((metrics.config.engine as { resumedFrom: unknown }).resumedFrom).toEqual({ epoch: 0, step: 1 });
  });

  it('applies the overrides layer over the sweep entry', async () => {
    const { metrics } = await runJob(spec('override', 1), { ...quiet, overrides: { components: { cf: true } } });
    expect(metrics.method).toBe('lift+cf');
  });

  it('refuses a sweep index outside the sweep', async () => {
    await expect(runJob(spec('outside', 3), quiet)).rejects.toThrow(TrainerSettingsError);
    await expect(runJob(spec('outside', 3), quiet)).rejects.toThrow('expected a sweep index in [0, 2], got 3');
  });

  it('refuses an invalid manifest with every problem', async () => {
    const bad = path.join(root, 'bad.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, JSON.stringify({ version: 1, name: 'bad', classes: ['a'] })));
    const error = await runJob({ ...spec('bad', 0), manifestUri: bad }, quiet).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestValidationError);
    expect((error as ManifestValidationError).problems.length).toBeGreaterThan(1);
  });

  it('trains with the replicas it is told (one line says how many and why), to the accuracy of one replica, recorded in metrics.json', async () => {
    const run = async (name: string, replicas: number) => {
      const lines: string[] = [];
      const { metrics } = await runJob(spec(name, 1), { ...quiet, log: (line) => lines.push(line), overrides: { replicas } });
      return { metrics, lines: lines.filter((l) => l.startsWith('replicas: ')) };
    };
    const one = await run('replicas-1', 1);
    const two = await run('replicas-2', 2);
    expect(one.lines).toEqual(['replicas: 1 (set by the replicas setting)']);
    expect(two.lines).toEqual(['replicas: 2 (set by the replicas setting); this thread and 1 helper worker thread']);
    expect((one.metrics.config.engine as { replicas: number }).replicas).toBe(1);
    expect((two.metrics.config.engine as { replicas: number }).replicas).toBe(2);
    expect(two.metrics.accuracy).toEqual(one.metrics.accuracy);
    two.metrics.epochs.forEach((e, i) => expect(e.loss).toBeCloseTo(one.metrics.epochs[i]!.loss, 5));
  });
});
