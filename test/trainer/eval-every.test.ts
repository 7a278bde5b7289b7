/**
 * runJob and `sage train` with evaluations during training: test accuracy per epoch in
 * metrics.json and the log, the held-out val split when the manifest has one, the best
 * weights under <results>/<i>/best/, and the CLI's exit codes for the new flags.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';
import type { JobSpec } from '../../src/contracts/job';
import { MetricsDocument } from '../../src/contracts/metrics';
import { silentProgress } from '../../src/engine';
import { runJob } from '../../src/trainer';
import { consoleProgress } from '../../src/trainer/progress';
import { writeTinyClip, writeTinyDataset } from '../cli/fixtures';

const quiet = { progress: silentProgress, log: () => {}, workers: 0 };

function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

describe('evaluations during training in a job', () => {
  let root: string;
  let manifestUri: string;
  let withValUri: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-eval-every-'));
    const weights = await writeTinyClip(path.join(root, 'clip'));
    manifestUri = await writeTinyDataset(root, weights, { training: { method: 'lift', epochs: 3, batchSize: 8 } });
    // The same dataset with its training items as the held-out split: val accuracy is then not test accuracy.
    const manifest = JSON.parse(await readFile(manifestUri, 'utf8')) as Record<string, unknown>;
    withValUri = path.join(path.dirname(manifestUri), 'with-val.json');
    await writeFile(withValUri, JSON.stringify({ ...manifest, val: manifest.train }, null, 2));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const spec = (name: string, uri = manifestUri): JobSpec => ({ runId: name, manifestUri: uri, resultsUri: path.join(root, name, 'results'), checkpointUri: path.join(root, name, 'checkpoints'), sweepIndex: 0 });

  it('writes test accuracy per epoch into metrics.json and the log, and the best weights under best/', async () => {
    const { metrics, locations } = await runJob(spec('every'), { ...quiet, overrides: { evalEvery: 1 } });
    const written = MetricsDocument.parse(JSON.parse(await readFile(locations.metricsUri, 'utf8')));
    expect(written.epochs.map((e) => e.evaluation?.split)).toEqual(['test', 'test', 'test']);
    expect(written.epochs.every((e) => e.testAccuracy === e.evaluation!.accuracy.all && e.evaluation!.accuracy.top5 !== undefined)).toBe(true);
    // keep: last, and the last epoch's test evaluation is the one reported.
    expect(written.kept).toEqual({ rule: 'last', epoch: 3 });
    expect(written.accuracy).toEqual(written.epochs[2]!.evaluation!.accuracy);
    expect(written.accuracy.top5).toBeGreaterThanOrEqual(written.accuracy.all);
    expect(written.confusion!.matrix).toHaveLength(4);
    const log = (await readFile(locations.logUri, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; testAccuracy?: number });
    expect(log.filter((r) => r.type === 'epoch').map((r) => r.testAccuracy)).toEqual(written.epochs.map((e) => e.testAccuracy));
    const best = path.join(locations.resultsDir, 'best');
    expect(existsSync(path.join(best, 'adapter.safetensors')) && existsSync(path.join(best, 'adapter.json'))).toBe(true);
    expect(metrics).toEqual(written);
  });

  it('evaluates on the val split during training and on test once at the end', async () => {
    const { metrics } = await runJob(spec('val', withValUri), { ...quiet, overrides: { evalEvery: 1, keep: 'best' } });
    expect(metrics.epochs.map((e) => e.evaluation?.split)).toEqual(['val', 'val', 'val']);
    expect(metrics.epochs.every((e) => e.testAccuracy === undefined && e.valAccuracy === e.evaluation!.accuracy.all)).toBe(true);
    // The val split is the 4 classes' 8 + 5 + 3 + 2 training images; the report's evaluation is the 12 test images.
    expect(metrics.dataset.testCount).toBe(12);
    const vals = metrics.epochs.map((e) => e.evaluation!.accuracy.all);
    expect(metrics.kept).toEqual({ rule: 'best', epoch: vals.indexOf(Math.max(...vals)) + 1, best: { epoch: vals.indexOf(Math.max(...vals)) + 1, split: 'val', metric: 'all', value: Math.max(...vals) } });
  });

  it('sage train: --keep best without --eval-every and unknown values exit 2; with it, exit 0 and metrics.json says which weights', async () => {
    const out = path.join(root, 'cli');
    const noEval = capture();
    expect(await runCli(['train', manifestUri, '--out', out, '--keep', 'best'], noEval)).toBe(2);
    expect(noEval.stderr.join('\n')).toContain('keep "best" needs evalEvery > 0');
    const badMetric = capture();
    expect(await runCli(['train', manifestUri, '--out', out, '--keep-metric', 'median'], badMetric)).toBe(2);
    expect(badMetric.stderr.join('\n')).toContain("Allowed choices are all, head, medium, tail, top5");
    const negative = capture();
    expect(await runCli(['train', manifestUri, '--out', out, '--eval-every', '-1'], negative)).toBe(2);
    expect(negative.stderr.join('\n')).toContain('expected a non-negative integer, got "-1"');

    const io = capture();
    expect(await runCli(['train', manifestUri, '--out', out, '--eval-every', '2', '--keep', 'best', '--keep-metric', 'top5', '--workers', '0'], io)).toBe(0);
    const metrics = MetricsDocument.parse(JSON.parse(await readFile(path.join(out, '0', 'metrics.json'), 'utf8')));
    // Evaluated after epoch 2 and after the last one.
    expect(metrics.epochs.map((e) => e.evaluation !== undefined)).toEqual([false, true, true]);
    expect(metrics.kept!.rule).toBe('best');
    expect(metrics.kept!.best!.metric).toBe('top5');
    expect(io.stderr.join('\n')).toMatch(/metrics\.json reports the weights of epoch [23] \(the best by top5 on test\), evaluated on test/);
  });
});

describe('the console line of an evaluated epoch', () => {
  it('names the split and gives top-5 beside top-1', () => {
    const chunks: string[] = [];
    const stream = { isTTY: false, write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
    const progress = consoleProgress(stream, 0);
    progress.epoch({ epoch: 2, loss: 0.5, trainAccuracy: 0.75, testAccuracy: 0.625, evaluatedSplit: 'val', top5: 0.875, seconds: 3 });
    progress.epoch({ epoch: 3, loss: 0.5, trainAccuracy: 0.75, seconds: 3 });
    expect(chunks).toEqual(['epoch 2: loss 0.5000, train acc 75.00%, val acc 62.50% (top-5 87.50%) (3.0 s)\n', 'epoch 3: loss 0.5000, train acc 75.00% (3.0 s)\n']);
  });
});
